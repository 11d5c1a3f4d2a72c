// /login and /signup: log in (the session cookie is HttpOnly; the CSRF token is kept for this tab),
// then go to the page that sent us here, or to the account's own page.
"use strict";

(() => {
  const HOME = { talent: "/talent", organisation: "/studio", operator: "/operator" };

  function next(kind) {
    const wanted = new URLSearchParams(location.search).get("next") || "";
    const local = wanted.startsWith("/") && !wanted.startsWith("//") && !wanted.startsWith("/\\");
    return local ? wanted : HOME[kind] || "/";
  }

  async function logIn(username, password) {
    const made = await L.post("/api/v1/sessions", { username, password });
    L.keepCsrf(made.csrf_token);
    L.say(`Logged in as ${made.account.username}.`);
    location.assign(next(made.account.kind));
  }

  const login = document.getElementById("login");
  if (login) L.onSubmit(login, (data) => logIn(data.get("username").trim(), data.get("password")));

  const signup = document.getElementById("signup");
  if (signup) {
    L.onSubmit(signup, async (data) => {
      const username = data.get("username").trim();
      await L.post("/api/v1/signup", { username, password: data.get("password") });
      await logIn(username, data.get("password"));
    });
  }
})();
