// /operator: organisations and accounts, the render queue (states, workers, heartbeats, errors),
// the audit log with its chain check, and a signed head to download.
"use strict";

(() => {
  const { el, get, post } = L;
  const PAGE = 50;
  let auditOffset = null; // null: the newest page
  let auditTotal = 0;

  async function loadOrgs() {
    const found = (await get("/api/v1/organisations?limit=200")).items;
    document.getElementById("orgs").replaceChildren(L.table("Organisations", ["Name", "Added"], found.map((o) => [o.name, L.when(o.created)])));
    L.options(document.getElementById("account-org"), [["", "(none)"], ...found.map((o) => [o.name, o.name])], true);
  }

  async function loadAccounts() {
    const found = (await get("/api/v1/accounts?limit=200")).items;
    document.getElementById("accounts").replaceChildren(L.table("Accounts", ["Username", "Kind", "Organisation", "Role", "Identities", "Added"],
      found.map((a) => [a.username, a.kind, a.organisation || "", a.org_role || "",
        Object.entries(a.identities || {}).map(([name, role]) => `${name} (${role})`).join(", "), L.when(a.created)])));
  }

  L.onSubmit(document.getElementById("org-form"), async (data, form) => {
    const made = await post("/api/v1/organisations", { name: data.get("name").trim() });
    form.reset();
    L.say(`Organisation ${made.name} added.`);
    await loadOrgs();
  });

  L.onSubmit(document.getElementById("account-form"), async (data, form) => {
    const kind = data.get("kind");
    const org = kind === "organisation";
    const made = await post("/api/v1/accounts", {
      username: data.get("username").trim(), password: data.get("password"), kind,
      organisation: org ? data.get("organisation") || null : null, org_role: org ? data.get("org_role") : null,
    });
    form.reset();
    L.say(`Account ${made.username} (${made.kind}) added.`);
    await loadAccounts();
  });

  // --- the queue
  function age(iso) {
    if (!iso) return "";
    const s = Math.round((Date.now() - new Date(iso)) / 1000);
    return s < 90 ? `${s} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : L.when(iso);
  }

  async function loadQueue() {
    const found = (await get("/api/v1/jobs?limit=200")).items;
    const counts = {};
    for (const j of found) counts[j.state] = (counts[j.state] || 0) + 1;
    const workers = new Set(found.filter((j) => j.state === "running" && j.worker).map((j) => j.worker));
    document.getElementById("queue-summary").textContent = `${Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(", ") || "no jobs"}`
      + ` · ${workers.size} worker(s) busy`;
    document.getElementById("queue").replaceChildren(L.table("Render queue",
      ["Queued", "Organisation", "Identity", "State", "Stage", "Frames", "Worker", "Heartbeat", "Tries", "Error"],
      found.map((j) => [L.when(j.created), j.organisation, j.identity, el("span", { class: `state ${j.state}` }, j.state), j.stage,
        j.frames ? `${j.frame} of ${j.frames}` : "", j.worker || "", age(j.heartbeat), j.attempts, j.error || ""])));
  }

  document.getElementById("queue-refresh").addEventListener("click", (e) => L.run(loadQueue, e.target));
  setInterval(() => {
    if (document.getElementById("queue-auto").checked && !document.hidden) loadQueue().catch(L.fail);
  }, 5000);

  // --- the audit log
  async function loadAudit() {
    if (auditOffset === null) {
      auditTotal = (await get("/api/v1/audit?limit=1")).total;
      auditOffset = Math.max(0, auditTotal - PAGE);
    }
    const found = await get(`/api/v1/audit?offset=${auditOffset}&limit=${PAGE}`);
    auditTotal = found.total;
    document.getElementById("audit").replaceChildren(
      el("p", { class: "help" }, `Entries ${auditOffset + 1}–${auditOffset + found.items.length} of ${auditTotal}, newest first.`),
      L.table("Audit entries", ["#", "When", "Event", "Details", "Hash"], found.items.reverse().map((e) => [e.seq, L.when(e.time), e.event,
        el("span", { class: "wrap" }, Object.entries(e.data).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · ")),
        el("code", { title: e.hash }, e.hash.slice(0, 12))])));
    document.getElementById("audit-older").disabled = auditOffset === 0;
    document.getElementById("audit-newer").disabled = auditOffset + PAGE >= auditTotal;
  }

  document.getElementById("audit-older").addEventListener("click", (e) => L.run(async () => {
    auditOffset = Math.max(0, auditOffset - PAGE);
    await loadAudit();
  }, e.target));
  document.getElementById("audit-newer").addEventListener("click", (e) => L.run(async () => {
    auditOffset = Math.min(Math.max(0, auditTotal - PAGE), auditOffset + PAGE);
    await loadAudit();
  }, e.target));

  document.getElementById("audit-verify").addEventListener("click", (e) => L.run(async () => {
    const report = await get("/api/v1/audit/verify");
    const line = document.getElementById("audit-check");
    line.className = `verdict-line ${report.ok ? "good" : "bad"}`;
    line.textContent = report.ok
      ? `The chain holds: ${report.entries} entries, head ${report.head_seq} (${report.head_hash.slice(0, 16)}…).`
      : `The chain is broken at entry ${report.bad_seq}: ${report.problem}`;
  }, e.target));

  document.getElementById("audit-head").addEventListener("click", (e) => L.run(async () => {
    const head = await get("/api/v1/audit/head");
    L.saveBlob(new Blob([JSON.stringify(head, null, 2)], { type: "application/json" }), `likeness-head-${head.seq}.json`);
    L.say(`Signed head of entry ${head.seq} downloaded: keep it, and check it later with likeness audit check.`);
  }, e.target));

  L.run(async () => {
    await Promise.all([loadOrgs(), loadAccounts(), loadQueue(), loadAudit()]);
  }).then(() => { document.body.dataset.ready = "1"; });
})();
