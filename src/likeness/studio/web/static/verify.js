// /verify: send one file to POST /api/v1/verify and say what it is, in words that do not overclaim.
"use strict";

(() => {
  const { el } = L;
  const VERDICTS = {
    intact: ["A signed, intact likeness output", "good"],
    confirmed: ["A likeness mark the studio confirms", "good"],
    unconfirmed: ["A likeness mark this studio cannot confirm", "warn"],
    forged: ["A forged or moved likeness mark", "bad"],
    tampered: ["Tampered: its Content Credentials do not match", "bad"],
    "consent-invalid": ["Its consent proof does not hold", "bad"],
    "no-mark-found": ["No likeness mark found (this is not proof that it is authentic)", "neutral"],
  };
  const C2PA = {
    trusted: "signed, and chained to this studio's root",
    valid: "signed and unchanged, by a signer not trusted here",
    invalid: "present, but it does not match the file",
    absent: "none in the file",
  };

  const input = document.getElementById("verify-file");
  const drop = document.getElementById("drop");
  const progress = document.getElementById("verify-progress");

  async function check(file) {
    L.checkSize(file);
    const form = new FormData();
    form.append("file", file, file.name);
    progress.hidden = false;
    progress.value = 0;
    L.say(`Checking ${file.name}…`);
    try {
      show(await L.upload("/api/v1/verify", form, (f) => { progress.value = f; }));
    } finally {
      progress.hidden = true;
    }
  }

  function show(data) {
    const [words, tone] = VERDICTS[data.verdict] || [`Verdict: ${data.verdict}`, "neutral"];
    const heading = document.getElementById("verdict");
    heading.textContent = words;
    heading.className = `verdict ${tone}`;
    document.getElementById("verdict-file").textContent = `${data.path} · SHA-256 ${data.sha256}`;
    document.getElementById("reasons").replaceChildren(...(data.reasons || []).map((r) => el("li", {}, r)));
    const wm = data.watermark || {};
    const secret = data.secret_mark;
    const c2pa = data.c2pa || {};
    const consent = data.consent || {};
    const licence = data.licence || {};
    const render = data.render || {};
    document.getElementById("details").replaceChildren(...L.dl([
      ["Watermark", wm.found ? `found: render ${wm.render_id} (confidence ${wm.confidence})` : "not found"],
      ["Studio's secret mark", secret ? (secret.found ? `found: render ${secret.render_id}` : "not found") : null],
      ["Render", render.render_id ? `${render.render_id}${render.n ? ` (render ${render.n})` : ""}` : null],
      ["Content Credentials", `${C2PA[c2pa.state] || c2pa.state}${c2pa.signer ? ` · signer: ${c2pa.signer}` : ""}`],
      ["Consent", consent.present ? (consent.ok ? "the talent-signed licence checks" : `does not hold: ${(consent.problems || []).join("; ")}`) : "no consent proof in the file"],
      ["Signed by key", consent.talent_key ? el("code", { class: "fingerprint" }, consent.talent_key) : null],
      ["Identity", consent.identity || render.identity || (consent.present ? "not named (the talent chose not to be)" : null)],
      ["Organisation", licence.organisation],
      ["Scope", licence.scope],
      ["Render number", consent.n ? `${consent.n}${consent.of ? ` of ${consent.of}` : ""}` : null],
      ["Rendered", licence.rendered ? L.when(licence.rendered) : null],
      ["Licence window", consent.expires ? `${L.day(consent.not_before) || "…"} to ${L.day(consent.expires)}` : null],
      ["Revoked", consent.revoked ? L.when(consent.revoked) : null],
    ]).childNodes);
    const result = document.getElementById("result");
    result.hidden = false;
    L.say(`${data.path}: ${words}.`);
    heading.focus();
  }

  input.addEventListener("change", () => { if (input.files[0]) L.run(() => check(input.files[0])); });
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const type of ["dragleave", "drop"]) drop.addEventListener(type, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    const file = e.dataTransfer.files[0];
    if (file) L.run(() => check(file));
  });
})();
