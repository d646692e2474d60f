// The login form: POST /api/login as JSON (a cross-site form cannot send JSON without a
// preflight, and the session cookie is SameSite=Strict), then go to the console.
"use strict";
document.getElementById("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const error = document.getElementById("error");
  error.textContent = "";
  try {
    const r = await fetch("/api/login", {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({name: document.getElementById("name").value,
                            password: document.getElementById("password").value}),
    });
    if (r.ok) { location.assign("/"); return; }
    const body = await r.json().catch(() => ({}));
    error.textContent = body.error || ("login failed (" + r.status + ")");
  } catch (e) {
    error.textContent = "the console is not reachable";
  }
});
