// likeness: what every page shares. fetch with the CSRF token, problem+json errors shown in the
// page's role="alert" box, uploads with progress, and a few DOM and byte helpers.
"use strict";

const L = (() => {
  const CSRF_KEY = "likeness.csrf";

  function csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return (meta && meta.content) || sessionStorage.getItem(CSRF_KEY) || "";
  }

  class ApiError extends Error {
    constructor(status, title, detail) {
      super(detail || title);
      this.status = status;
      this.title = title;
    }
  }

  function errorOf(status, statusText, text) {
    let body = null;
    try { body = JSON.parse(text); } catch (_) { /* not JSON */ }
    const detail = (body && (body.detail || body.title)) || `${status} ${statusText || "error"}`;
    return new ApiError(status, (body && body.title) || statusText, detail);
  }

  // JSON in, JSON out; a non-2xx answer throws an ApiError carrying the problem's detail line.
  async function api(method, path, body) {
    const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (method !== "GET") init.headers["X-CSRF-Token"] = csrf();
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try { response = await fetch(path, init); } catch (_) {
      throw new ApiError(0, "Network error", "the studio did not answer: check your connection and try again");
    }
    const text = await response.text();
    if (!response.ok) throw errorOf(response.status, response.statusText, text);
    return text ? JSON.parse(text) : null;
  }

  // multipart POST with upload progress (fetch cannot report it); onProgress(fraction).
  function upload(path, form, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", path);
      xhr.setRequestHeader("Accept", "application/json");
      const token = csrf();
      if (token) xhr.setRequestHeader("X-CSRF-Token", token);
      xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total); });
      xhr.addEventListener("load", () => {
        if (xhr.status >= 200 && xhr.status < 300) resolve(JSON.parse(xhr.responseText));
        else reject(errorOf(xhr.status, xhr.statusText, xhr.responseText));
      });
      xhr.addEventListener("error", () => reject(new ApiError(0, "Network error", "the upload did not reach the studio (connection closed)")));
      xhr.send(form);
    });
  }

  // The limit this studio takes, from the page; a file over it is refused before it is sent.
  const maxUpload = () => Number(document.body.dataset.maxUpload || 0);
  function checkSize(file) {
    const limit = maxUpload();
    if (limit && file.size > limit) {
      throw new ApiError(413, "Too large", `${file.name} is ${size(file.size)}: this studio takes files up to ${size(limit)} (${limit} bytes)`);
    }
  }

  function size(n) {
    const units = ["bytes", "KiB", "MiB", "GiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return i === 0 ? `${n} bytes` : `${n.toFixed(1).replace(/\.0$/, "")} ${units[i]}`;
  }

  // --- messages: errors in the alert box, successes in the polite status line
  function fail(error) {
    const box = document.getElementById("alert");
    box.replaceChildren(el("strong", {}, error.title && error.status ? `${error.title}: ` : "Something went wrong: "),
      error.message || String(error));
    if (error.status === 401) {
      box.append(" ", el("a", { href: `/login?next=${encodeURIComponent(location.pathname)}` }, "Log in again"));
    }
    box.hidden = false;
    document.getElementById("status").textContent = "";
    box.scrollIntoView({ block: "nearest" });
    console.warn(error);
  }

  function say(message) {
    document.getElementById("status").textContent = message;
  }

  function clear() {
    const box = document.getElementById("alert");
    box.hidden = true;
    box.replaceChildren();
  }

  // Run an async action with its button disabled; its errors go to the alert box.
  async function run(work, button) {
    clear();
    if (button) button.disabled = true;
    try { return await work(); } catch (error) { fail(error); return undefined; } finally { if (button) button.disabled = false; }
  }

  function onSubmit(form, work) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      run(() => work(new FormData(form), form), form.querySelector('[type="submit"]'));
    });
  }

  // --- DOM
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child !== null && child !== undefined && child !== false) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function table(caption, headers, rows) {
    if (!rows.length) return el("p", { class: "help" }, `${caption}: none yet.`);
    return el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
      el("table", {}, el("caption", { class: "visually-hidden" }, caption),
        el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c)))))));
  }

  function dl(pairs) {
    return el("dl", { class: "details" }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== "")
      .map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  }

  function options(select, items, keep) {
    const before = keep ? select.value : "";
    select.replaceChildren(...items.map(([value, label]) => el("option", { value }, label)));
    if (before && items.some(([value]) => value === before)) select.value = before;
  }

  const when = (iso) => (iso ? new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" }) : "");
  const day = (iso) => (iso ? String(iso).slice(0, 10) : "");
  const short = (id) => String(id || "").slice(0, 8);

  function saveBlob(blob, filename) {
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: filename, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  // --- bytes
  function b64(bytes) {
    let text = "";
    for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
    return btoa(text);
  }
  const unb64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
  const sha256hex = async (bytes) => hex(await crypto.subtle.digest("SHA-256", bytes));

  // --- log out (a button on every page)
  document.addEventListener("click", (event) => {
    if (!event.target.closest("[data-logout]")) return;
    run(async () => {
      await api("DELETE", "/api/v1/sessions");
      sessionStorage.removeItem(CSRF_KEY);
      location.assign("/login");
    }, event.target);
  });

  return {
    api, get: (p) => api("GET", p), post: (p, b) => api("POST", p, b), put: (p, b) => api("PUT", p, b), upload, checkSize, size,
    keepCsrf: (token) => sessionStorage.setItem(CSRF_KEY, token), ApiError, fail, say, clear, run, onSubmit,
    el, table, dl, options, when, day, short, saveBlob, b64, unb64, hex, sha256hex,
  };
})();
