// /talent: the talent's key (made here, kept non-extractable in IndexedDB, backed up encrypted),
// enrolment, listing, licence requests to sign or decline, grants to revoke, outputs to approve,
// history, and the signed audit heads this browser has seen.
"use strict";

(() => {
  const { el, get, post, put } = L;
  const me = document.body.dataset.username;
  const ED25519 = { name: "Ed25519" };
  const ROUNDS = 600000;
  const enc = new TextEncoder();
  let identities = [];

  // --- IndexedDB: "keys" (one per username) and "heads" (every signed head seen)
  function openDb() {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open("likeness", 1);
      req.onupgradeneeded = () => {
        req.result.createObjectStore("keys");
        req.result.createObjectStore("heads", { autoIncrement: true });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  async function store(name, mode, work) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(name, mode);
      const req = work(tx.objectStore(name));
      tx.oncomplete = () => { db.close(); resolve(req.result); };
      tx.onerror = tx.onabort = () => { db.close(); reject(tx.error); };
    });
  }

  const loadKey = () => store("keys", "readonly", (s) => s.get(me));
  const saveKey = (record) => store("keys", "readwrite", (s) => s.put(record, me));

  // --- the key
  async function aesFrom(passphrase, salt) {
    const base = await crypto.subtle.importKey("raw", enc.encode(passphrase), "PBKDF2", false, ["deriveKey"]);
    return crypto.subtle.deriveKey({ name: "PBKDF2", hash: "SHA-256", salt, iterations: ROUNDS }, base,
      { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
  }

  async function backupOf(pkcs8, publicRaw, fingerprint, passphrase) {
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: publicRaw }, await aesFrom(passphrase, salt), pkcs8);
    return {
      likeness: "browser-key-backup/1", username: me, created: new Date().toISOString(),
      public_key: L.b64(publicRaw), fingerprint,
      kdf: { name: "PBKDF2", hash: "SHA-256", iterations: ROUNDS, salt: L.b64(salt) },
      cipher: { name: "AES-GCM", iv: L.b64(iv), additional_data: "public_key" },
      private_key_pkcs8: L.b64(new Uint8Array(sealed)),
    };
  }

  // Keep the private key non-extractable: from here on the browser signs with it but never hands it out.
  async function keep(pkcs8, publicRaw) {
    const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, ED25519, false, ["sign"]);
    pkcs8.fill(0);
    const fingerprint = await L.sha256hex(publicRaw);
    await saveKey({ privateKey, publicRaw, fingerprint, created: new Date().toISOString() });
    return fingerprint;
  }

  async function makeKey(data) {
    const passphrase = data.get("passphrase");
    if (passphrase !== data.get("again")) throw new Error("the two passphrases differ");
    const pair = await crypto.subtle.generateKey(ED25519, true, ["sign", "verify"]);
    const publicRaw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
    const fingerprint = await L.sha256hex(publicRaw);
    const backup = new Blob([JSON.stringify(await backupOf(pkcs8, publicRaw, fingerprint, passphrase), null, 2)], { type: "application/json" });
    const name = `likeness-key-${me}-${fingerprint.slice(0, 8)}.json`;
    L.saveBlob(backup, name);
    const again = document.getElementById("backup-link");
    again.href = URL.createObjectURL(backup);
    again.download = name;
    document.getElementById("backup-again").hidden = false;
    await keep(pkcs8, publicRaw);
    L.say(`Your key is made; its encrypted backup was downloaded as ${name}.`);
    await showKey();
  }

  async function restoreKey(data) {
    const file = data.get("backup");
    let backup;
    try { backup = JSON.parse(await file.text()); } catch (_) { throw new Error(`${file.name} is not a likeness key backup`); }
    if (!backup || backup.likeness !== "browser-key-backup/1") throw new Error(`${file.name} is not a likeness key backup`);
    const publicRaw = L.unb64(backup.public_key);
    let pkcs8;
    try {
      const aes = await aesFrom(data.get("passphrase"), L.unb64(backup.kdf.salt));
      pkcs8 = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: L.unb64(backup.cipher.iv), additionalData: publicRaw },
        aes, L.unb64(backup.private_key_pkcs8)));
    } catch (_) {
      throw new Error("wrong passphrase, or the backup file is damaged");
    }
    const fingerprint = await keep(pkcs8, publicRaw);
    const probe = enc.encode("likeness key check");
    const { privateKey } = await loadKey();
    const publicKey = await crypto.subtle.importKey("raw", publicRaw, ED25519, false, ["verify"]);
    if (!(await crypto.subtle.verify(ED25519, publicKey, await crypto.subtle.sign(ED25519, privateKey, probe), probe))) {
      throw new Error("the backup's private key does not match its public key");
    }
    L.say(`Key ${fingerprint.slice(0, 16)}… restored.`);
    await showKey();
  }

  async function showKey() {
    const key = await loadKey();
    document.getElementById("key-held").hidden = !key;
    document.getElementById("key-none").hidden = !!key;
    if (key) {
      document.getElementById("key-fingerprint").textContent = key.fingerprint;
      document.getElementById("key-created").textContent = L.when(key.created);
    }
    return key;
  }

  async function needKey() {
    const key = await loadKey();
    if (!key) throw new Error("this browser holds no key for you: make one or restore your backup (“Your signing key”, above)");
    return key;
  }

  // Sign ``text`` exactly as the studio gave it (its UTF-8 bytes); ``identity``: check its pinned key first.
  async function sign(text, identity) {
    const key = await needKey();
    const pinned = identity && (identities.find((i) => i.name === identity) || {}).owner_key;
    if (pinned && pinned !== key.fingerprint) {
      throw new Error(`${identity} is pinned to key ${pinned.slice(0, 16)}…, but this browser holds ${key.fingerprint.slice(0, 16)}…: restore that key's backup`);
    }
    return L.b64(await crypto.subtle.sign(ED25519, key.privateKey, enc.encode(text)));
  }

  // --- enrolment
  async function enrol(data, form) {
    const key = await needKey();
    const files = data.getAll("files").filter((f) => f.size);
    files.forEach(L.checkSize);
    const statement = await post("/api/v1/identities/enrolment-statement", { name: data.get("name").trim(), public_key: L.b64(key.publicRaw) });
    const body = new FormData();
    body.append("statement", statement.payload);
    body.append("signature", await sign(statement.payload));
    body.append("role", data.get("role"));
    for (const file of files) body.append("files", file, file.name);
    const bar = document.getElementById("enrol-progress");
    bar.hidden = false;
    L.say(`Sending ${files.length} photo(s); finding the face can take a minute…`);
    try {
      const made = await L.upload("/api/v1/identities", body, (f) => { bar.value = f; });
      if (made.status === "held") L.say(`Received ${made.name}, held for review: ${made.detail}`);
      else L.say(`Enrolled ${made.name} (${made.items} faceset item(s)). Next: list yourself so organisations can ask for a licence.`);
      form.reset();
    } finally {
      bar.hidden = true;
    }
    await loadIdentities();
  }

  // --- identities and their listing
  function coverage(c) {
    if (!c) return null;
    const range = (r) => (r && r.length === 2 ? `${Math.round(r[0])}° to ${Math.round(r[1])}°` : "");
    return el("div", {},
      L.dl([["Photos kept", c.items], ["Turn (yaw)", range(c.yaw)], ["Tilt (pitch)", range(c.pitch)],
        ["Mouth open", `${Math.round(100 * c.mouth_open_share)}%`], ["Eyes closed", `${Math.round(100 * c.eyes_closed_share)}%`]]),
      c.advice && c.advice.length ? el("ul", { class: "advice" }, c.advice.map((a) => el("li", {}, a))) : null);
  }

  function identityCard(ident, key) {
    const listing = ident.listing || {};
    const mine = key && key.fingerprint === ident.owner_key;
    const form = el("form", { class: "stack listing", "aria-label": `Listing of ${ident.name}` },
      el("label", { class: "check" }, el("input", { type: "checkbox", name: "listed", checked: listing.listed }),
        " Listed: organisations can find me and ask for a licence"),
      el("label", { class: "check" }, el("input", { type: "checkbox", name: "named", checked: listing.named }),
        " Named: the public verify page may show my name"),
      el("label", {}, "Most licences active at once (empty: no cap) ",
        el("input", { type: "number", name: "max_active", min: "0", step: "1", value: listing.max_active ?? "" })),
      el("button", { type: "submit", class: "secondary" }, `Save listing of ${ident.name}`));
    L.onSubmit(form, async (data) => {
      const cap = data.get("max_active");
      const saved = await put(`/api/v1/identities/${encodeURIComponent(ident.name)}/listing`,
        { listed: data.has("listed"), named: data.has("named"), max_active: cap === "" ? null : Number(cap) });
      L.say(`${ident.name} is ${saved.listed ? "listed" : "not listed"}${saved.named ? " and named on verify" : ""}.`);
    });
    return el("article", { class: "item", "data-identity": ident.name },
      el("h3", {}, ident.name, " ", el("span", { class: "tag" }, ident.role)),
      L.dl([["Key", el("code", { class: "fingerprint" }, ident.owner_key)],
        ["This browser", mine ? "holds this identity's key ✓" : "does not hold this identity's key: restore its backup to sign for it"],
        ["Enrolled", L.when(ident.created)], ["Faceset", `${ident.items} item(s)`]]),
      thumbnails(ident),
      el("details", {}, el("summary", {}, "Coverage report"), coverage(ident.coverage)),
      form);
  }

  // Faceset crops, for this talent only: fetched when opened, never cached (the server sends no-store).
  function thumbnails(ident) {
    const box = el("div", { class: "thumbs" });
    const details = el("details", {}, el("summary", {}, "My faceset crops (only you see them)"), box);
    details.addEventListener("toggle", () => {
      if (!details.open || box.childElementCount) return;
      const count = Math.min(ident.items, 24);
      for (let i = 0; i < count; i++) {
        box.append(el("img", { src: `/api/v1/identities/${encodeURIComponent(ident.name)}/thumbnails/${i}`,
          alt: `crop ${i + 1} of ${ident.name}`, width: "80", height: "80", loading: "lazy" }));
      }
    });
    return details;
  }

  async function loadIdentities() {
    const [found, key] = await Promise.all([get("/api/v1/identities"), loadKey()]);
    identities = found.items;
    const box = document.getElementById("identities");
    box.replaceChildren(...(identities.length ? identities.map((i) => identityCard(i, key))
      : [el("p", { class: "help" }, "None yet: enrol your face above.")]));
    L.options(document.getElementById("history-identity"), identities.map((i) => [i.name, i.name]), true);
  }

  // --- licence requests
  function requestCard(r) {
    const t = r.terms || {};
    const decline = el("form", { class: "inline", "aria-label": `Decline the request of ${r.organisation}` },
      el("label", {}, "Reason (optional) ", el("input", { name: "reason", maxlength: "2000" })),
      el("button", { type: "submit", class: "danger" }, "Decline"));
    L.onSubmit(decline, async (data) => {
      await post(`/api/v1/licence-requests/${r.id}/decline`, { reason: data.get("reason") });
      L.say(`You declined ${r.organisation}'s request.`);
      await loadRequests();
    });
    const signButton = el("button", { type: "button" }, "Sign this licence");
    signButton.addEventListener("click", () => L.run(async () => {
      const grant = await post(`/api/v1/licence-requests/${r.id}/sign`, { signature: await sign(r.to_sign.payload, r.identity) });
      L.say(`Signed: ${grant.grantee} may render ${grant.identity} for ${grant.scopes.join(", ")} until ${L.day(grant.expires)}.`);
      await Promise.all([loadRequests(), loadGrants(), saveHead()]);
    }, signButton));
    return el("article", { class: "item", "data-request": r.id },
      el("h3", {}, `${r.organisation} asks to use ${r.identity}`),
      L.dl([["Scopes", (t.scopes || []).join(", ")], ["From", L.day(t.not_before) || "now"], ["Until", L.day(t.expires)],
        ["Most renders", t.max_renders ?? "no limit"], ["Visible label", t.visible_label ? "yes" : "no"],
        ["Your approval of each output", t.approval ? "yes" : "no"], ["Purpose", t.purpose], ["Note", t.note],
        ["Asked by", `${r.account}, ${L.when(r.created)}`]]),
      el("details", {}, el("summary", {}, "The exact text you sign"), el("pre", {}, r.to_sign.payload)),
      el("div", { class: "actions" }, signButton, decline));
  }

  async function loadRequests() {
    const found = (await get("/api/v1/licence-requests")).items;
    const pending = found.filter((r) => r.state === "pending" && r.to_sign);
    const decided = found.filter((r) => r.state !== "pending");
    document.getElementById("requests").replaceChildren(
      ...(pending.length ? pending.map(requestCard) : [el("p", { class: "help" }, "No request waits for you.")]),
      decided.length ? el("details", {}, el("summary", {}, `Decided (${decided.length})`),
        L.table("Decided requests", ["Organisation", "Identity", "Decision", "Reason", "When"],
          decided.map((r) => [r.organisation, r.identity, r.state, r.reason || "", L.when(r.decided)]))) : "");
  }

  // --- grants and revocation
  function grantRow(g) {
    const revoke = el("form", { class: "inline", "aria-label": `Revoke the licence of ${g.grantee}` },
      el("label", {}, "Reason ", el("input", { name: "reason", maxlength: "2000" })),
      el("button", { type: "submit", class: "danger" }, "Revoke"));
    L.onSubmit(revoke, async (data) => {
      const toSign = await get(`/api/v1/grants/${g.id}/revocation?reason=${encodeURIComponent(data.get("reason"))}`);
      const done = await post(`/api/v1/grants/${g.id}/revoke`, { payload: toSign.payload, signature: await sign(toSign.payload, g.identity) });
      await keepHead(done.head);
      L.say(`Revoked: ${g.grantee} can no longer render ${g.identity} (receipt: audit entry ${done.head.seq}).`);
      await loadGrants();
    });
    const used = `${g.used} of ${g.max_renders ?? "∞"}`;
    return [el("span", { "data-grant": g.id }, g.grantee), g.identity, (g.scopes || []).join(", "),
      `${L.day(g.not_before)} to ${L.day(g.expires)}`, used, g.approval ? "yes" : "no", g.revoked ? el("strong", {}, "revoked") : revoke];
  }

  async function loadGrants() {
    const found = (await get("/api/v1/grants")).items.filter((g) => !g.unreadable);
    document.getElementById("grants").replaceChildren(
      L.table("Licences", ["Organisation", "Identity", "Scopes", "Window", "Renders used", "Approval", "Revoke"], found.map(grantRow)));
  }

  // --- outputs waiting for approval
  async function loadOutputs() {
    const held = (await get("/api/v1/outputs")).items.filter((o) => o.held);
    document.getElementById("outputs").replaceChildren(L.table("Outputs waiting for approval", ["Organisation", "Identity", "Render", "Made", ""],
      held.map((o) => {
        const approve = el("button", { type: "button" }, "Approve");
        approve.addEventListener("click", () => L.run(async () => {
          await post(`/api/v1/outputs/${o.id}/approve`);
          L.say(`Render ${o.render_id} released to ${o.organisation}.`);
          await loadOutputs();
        }, approve));
        return [o.organisation, o.identity, o.render_id, L.when(o.created),
          el("span", { class: "actions" }, el("a", { href: o.download, download: "" }, "Look at it"), approve)];
      })));
  }

  // --- history
  async function loadHistory(data) {
    const name = data.get("identity");
    if (!name) return;
    const found = await get(`/api/v1/identities/${encodeURIComponent(name)}/history?limit=200`);
    document.getElementById("history").replaceChildren(L.table(`History of ${name}`, ["#", "When", "What", "Details"],
      found.items.reverse().map((e) => [e.seq, L.when(e.time), e.event, el("span", { class: "wrap" }, Object.entries(e.data)
        .filter(([k]) => k !== "identity").map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · "))])));
  }

  // --- signed audit heads: keep each one; warn when the studio's head goes backwards
  async function keepHead(head) {
    const seen = await store("heads", "readonly", (s) => s.getAll());
    const same = seen.filter((h) => h.vault === head.vault);
    const highest = same.reduce((a, h) => (a && a.seq >= h.seq ? a : h), null);
    const clash = same.find((h) => h.seq === head.seq && h.hash !== head.hash);
    const warning = document.getElementById("head-warning");
    if ((highest && head.seq < highest.seq) || clash) {
      const was = clash || highest;
      warning.textContent = `Warning: the studio's audit log now ends at entry ${head.seq}, but this browser saw entry ${was.seq}`
        + `${clash ? " with a different hash" : ""} on ${L.when(was.time)}. Entries may have been removed or rewritten: `
        + "download the latest head you saw and check it with `likeness audit check`.";
      warning.hidden = false;
    }
    if (!same.some((h) => h.seq === head.seq && h.hash === head.hash)) {
      await store("heads", "readwrite", (s) => s.add({ ...head, seen: new Date().toISOString() }));
      same.push(head);
    }
    document.getElementById("heads").textContent = `This browser keeps ${same.length} signed head(s) of this studio's audit log; `
      + `the latest is entry ${head.seq} of ${L.when(head.time)}.`;
  }

  const saveHead = async () => keepHead(await get("/api/v1/audit/head"));

  document.getElementById("heads-download").addEventListener("click", (e) => L.run(async () => {
    // The highest head seen: `likeness audit check FILE` proves the chain still extends it (and so every earlier one).
    const heads = await store("heads", "readonly", (s) => s.getAll());
    if (!heads.length) throw new Error("this browser has saved no audit head yet");
    const { seen, ...latest } = heads.reduce((a, h) => (a.seq >= h.seq ? a : h));
    L.saveBlob(new Blob([JSON.stringify(latest, null, 2)], { type: "application/json" }), `likeness-head-${latest.seq}.json`);
  }, e.target));

  L.onSubmit(document.getElementById("make-key"), makeKey);
  L.onSubmit(document.getElementById("restore-key"), restoreKey);
  L.onSubmit(document.getElementById("enrol-form"), enrol);
  L.onSubmit(document.getElementById("history-form"), loadHistory);
  if (!window.crypto || !crypto.subtle) {
    L.fail(new Error("this browser offers no WebCrypto here (open the studio over https or on localhost)"));
    return;
  }
  L.run(async () => {
    await showKey();
    await Promise.all([loadIdentities(), loadRequests(), loadGrants(), loadOutputs(), saveHead()]);
  }).then(() => { document.body.dataset.ready = "1"; });
})();
