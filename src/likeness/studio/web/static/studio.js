// /studio: listed talent and licence requests, uploads with progress, render jobs watched live (SSE),
// cancel, retry, download, and the organisation's render history.
"use strict";

(() => {
  const { el, get, post } = L;
  const FINAL = ["succeeded", "failed", "cancelled"];
  const localFiles = new Map(); // upload id -> the File picked here (for the side-by-side preview of images)
  const jobUploads = new Map(); // job id -> upload id, for the jobs queued from this page
  let grants = [];
  let watching = null; // { job, source }

  // --- talent and licences
  async function loadIdentities() {
    const found = (await get("/api/v1/identities")).items;
    L.options(document.getElementById("ask-identity"), found.map((i) => [i.name, i.name]), true);
    document.getElementById("identities").replaceChildren(...(found.length ? found.map((i) => {
      const ask = el("button", { type: "button", class: "secondary" }, `Request a licence for ${i.name}`);
      ask.addEventListener("click", () => {
        document.getElementById("ask-identity").value = i.name;
        document.querySelector('#ask-form [name="scopes"]').focus();
      });
      return el("article", { class: "item", "data-identity": i.name }, el("h3", {}, i.name),
        L.dl([["Talent's key", el("code", { class: "fingerprint" }, i.owner_key)]]), ask);
    }) : [el("p", { class: "help" }, "No talent is listed yet.")]));
  }

  L.onSubmit(document.getElementById("ask-form"), async (data, form) => {
    const scopes = data.getAll("scopes");
    if (!scopes.length) throw new Error("choose at least one scope");
    const number = data.get("max_renders");
    const made = await post("/api/v1/licence-requests", {
      identity: data.get("identity"), scopes, expires: data.get("expires"), not_before: data.get("not_before") || null,
      max_renders: number ? Number(number) : null, visible_label: data.has("visible_label"), approval: data.has("approval"),
      purpose: data.get("purpose"), note: data.get("note"),
    });
    form.reset();
    L.say(`Request sent to ${made.identity}: it waits for their signature.`);
    await loadRequests();
  });

  async function loadRequests() {
    const found = (await get("/api/v1/licence-requests")).items;
    document.getElementById("requests").replaceChildren(L.table("Licence requests", ["Identity", "Scopes", "Until", "State", "Reason", "Asked"],
      found.map((r) => [r.identity, (r.terms.scopes || []).join(", "), L.day(r.terms.expires), el("span", { class: `state ${r.state}` }, r.state),
        r.reason || "", L.when(r.created)])));
  }

  const active = (g) => !g.revoked && !g.unreadable && new Date(g.expires) > new Date() && (g.max_renders == null || g.used < g.max_renders);

  async function loadGrants() {
    grants = (await get("/api/v1/grants")).items.filter((g) => !g.unreadable);
    document.getElementById("grants").replaceChildren(L.table("Licences", ["Identity", "Scopes", "Window", "Renders used", "Approval", "State"],
      grants.map((g) => [g.identity, g.scopes.join(", "), `${L.day(g.not_before)} to ${L.day(g.expires)}`, `${g.used} of ${g.max_renders ?? "∞"}`,
        g.approval ? "talent approves each output" : "no", g.revoked ? el("strong", {}, "revoked") : active(g) ? "active" : "used up or expired"])));
    const usable = grants.filter(active);
    L.options(document.getElementById("job-grant"), usable.map((g) => [g.id,
      `${g.identity}: ${g.scopes.join(", ")}, until ${L.day(g.expires)} (${g.used} of ${g.max_renders ?? "∞"} used)`]), true);
    scopesOfGrant();
  }

  function scopesOfGrant() {
    const grant = grants.find((g) => g.id === document.getElementById("job-grant").value);
    L.options(document.getElementById("job-scope"), (grant ? grant.scopes : []).map((s) => [s, s]), true);
  }
  document.getElementById("job-grant").addEventListener("change", scopesOfGrant);

  // --- uploads
  async function loadUploads(select) {
    const found = (await get("/api/v1/uploads?limit=200")).items.reverse();
    L.options(document.getElementById("job-upload"), found.map((u) => [u.id, `${u.filename} (${u.kind}, ${L.size(u.size)}, ${L.when(u.created)})`]), !select);
    if (select) document.getElementById("job-upload").value = select;
  }

  L.onSubmit(document.getElementById("upload-form"), async (data, form) => {
    const file = data.get("file");
    L.checkSize(file);
    const bar = document.getElementById("upload-progress");
    const percent = document.getElementById("upload-percent");
    const show = (f) => { bar.value = f; percent.textContent = `${Math.round(100 * f)}%`; };
    show(0);
    const body = new FormData();
    body.append("file", file, file.name);
    let made;
    try { made = await L.upload("/api/v1/uploads", body, show); } catch (error) { show(0); throw error; }
    show(1);
    localFiles.set(made.id, file);
    form.reset();
    L.say(`Uploaded ${made.filename} (${made.kind}, ${L.size(made.size)}): choose it below to render.`);
    await loadUploads(made.id);
  });

  // --- jobs
  L.onSubmit(document.getElementById("job-form"), async (data) => {
    const grant = grants.find((g) => g.id === data.get("grant"));
    if (!grant) throw new Error("choose a licence (an active one: ask the talent first)");
    L.say("Checking the target for a face…");
    let job;
    try {
      job = await post("/api/v1/jobs", {
        upload: data.get("upload"), identity: grant.identity, grant: grant.id, scope: data.get("scope"), engine: data.get("engine"),
        face: data.get("face"), options: { colour: data.get("colour"), blend: data.get("blend"), visible_label: data.has("visible_label") },
      });
    } catch (error) {
      if (error.status === 403) await loadGrants().catch(() => {}); // refused: show the licence as it stands now
      throw error;
    }
    L.say(`Render queued (${L.short(job.id)}).`);
    jobUploads.set(job.id, data.get("upload"));
    watch(job);
    await loadJobs();
  });

  function seconds(s) {
    if (s == null) return "";
    return s >= 90 ? `about ${Math.round(s / 60)} min left` : `about ${Math.max(1, Math.round(s))} s left`;
  }

  function showJob(job) {
    document.getElementById("live-id").textContent = L.short(job.id);
    document.getElementById("live-state").textContent = job.state;
    document.getElementById("live-stage").textContent = job.stage;
    const bar = document.getElementById("live-progress");
    if (job.frames) { bar.max = job.frames; bar.value = job.state === "succeeded" ? job.frames : job.frame; } else if (job.state === "succeeded") { bar.max = 1; bar.value = 1; } else { bar.removeAttribute("value"); }
    document.getElementById("live-frames").textContent = job.frames ? `Frame ${job.frame} of ${job.frames}` : job.state === "queued" ? "Waiting for a worker" : "";
    document.getElementById("live-speed").textContent = [job.fps ? `${job.fps.toFixed(1)} frames/s` : "", job.state === "running" ? seconds(job.eta_s) : ""]
      .filter(Boolean).join(" · ");
    const error = document.getElementById("live-error");
    error.textContent = job.error || "";
    error.hidden = !job.error;
    document.getElementById("live-cancel").hidden = FINAL.includes(job.state);
    document.getElementById("live-retry").hidden = !["failed", "cancelled"].includes(job.state);
  }

  function watch(job) {
    if (watching) watching.source.close();
    const live = document.getElementById("live");
    live.hidden = false;
    document.getElementById("live-download").hidden = true;
    document.getElementById("preview").hidden = true;
    showJob(job);
    const source = new EventSource(`/api/v1/jobs/${job.id}/events`);
    watching = { job, source };
    source.addEventListener("job", (event) => {
      const now = JSON.parse(event.data);
      watching.job = now;
      showJob(now);
      if (FINAL.includes(now.state)) {
        source.close();
        L.run(() => finished(now));
      }
    });
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) L.fail(new Error("lost the live view of this render: refresh the list below"));
    });
  }

  async function finished(job) {
    await Promise.all([loadJobs(), loadGrants()]);
    if (job.state !== "succeeded") {
      L.say(`Render ${L.short(job.id)} ${job.state}.`);
      return;
    }
    const full = await get(`/api/v1/jobs/${job.id}`);
    if (!full.output) return;
    const output = await get(`/api/v1/outputs/${full.output}`);
    if (output.held) {
      L.say(`Render ${output.render_id} is done and waits for the talent's approval before you can download it.`);
      return;
    }
    const link = document.getElementById("live-download");
    link.href = output.download;
    link.hidden = false;
    L.say(`Render ${output.render_id} is done: download it below.`);
    await preview(job, output);
  }

  // Side by side, for pictures: the target as picked here (when it was), and the output. Videos: no preview.
  async function preview(job, output) {
    const uploadId = jobUploads.get(job.id);
    const option = [...document.getElementById("job-upload").options].find((o) => o.value === uploadId);
    const local = localFiles.get(uploadId);
    if (!(option && option.textContent.includes("(image,")) && !(local && local.type.startsWith("image/"))) return;
    const response = await fetch(output.download, { credentials: "same-origin" });
    if (!response.ok) return;
    const image = await response.blob();
    if (!image.type.startsWith("image/")) return;
    document.getElementById("preview-output").src = URL.createObjectURL(image);
    const target = document.getElementById("preview-target");
    target.closest("figure").hidden = !local;
    if (local) target.src = URL.createObjectURL(local);
    document.getElementById("preview").hidden = false;
  }

  document.getElementById("live-cancel").addEventListener("click", (e) => L.run(async () => {
    const job = await post(`/api/v1/jobs/${watching.job.id}/cancel`);
    L.say(`Cancelling render ${L.short(job.id)}…`);
  }, e.target));

  document.getElementById("live-retry").addEventListener("click", (e) => L.run(async () => {
    const job = await post(`/api/v1/jobs/${watching.job.id}/retry`);
    L.say(`Queued again as ${L.short(job.id)}.`);
    if (jobUploads.has(watching.job.id)) jobUploads.set(job.id, jobUploads.get(watching.job.id));
    watch(job);
    await loadJobs();
  }, e.target));

  async function loadJobs() {
    const found = (await get("/api/v1/jobs?limit=100")).items;
    document.getElementById("jobs").replaceChildren(L.table("Renders", ["Queued", "Identity", "State", "Stage", "Frames", "Error", ""],
      found.map((j) => {
        const open = el("button", { type: "button", class: "secondary" }, "Watch");
        open.addEventListener("click", () => { watch(j); document.getElementById("live").scrollIntoView(); });
        return [L.when(j.created), j.identity, el("span", { class: `state ${j.state}` }, j.state), j.stage,
          j.frames ? `${j.frame} of ${j.frames}` : "", j.error || "", open];
      })));
  }

  document.getElementById("jobs-refresh").addEventListener("click", (e) => L.run(loadJobs, e.target));

  L.run(async () => {
    await Promise.all([loadIdentities(), loadRequests(), loadGrants(), loadUploads(), loadJobs()]);
  }).then(() => { document.body.dataset.ready = "1"; });
})();
