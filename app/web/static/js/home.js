// `/`: the sign-in form, or the signed-in user's projects.
import { api, ApiError, listAll, session, signIn } from "./api.js";
import { $, chrome, h, showError } from "./ui.js";

async function showProjects() {
  chrome();
  $("#projects").hidden = false;
  const projects = await listAll("/projects");
  $("#project-list").replaceChildren(...projects.map((p) => h("li", {},
    h("a", { href: `/projects/${p.key}` }, p.name), " ", h("span", { class: "muted" }, p.key))));
  $("#no-projects").hidden = projects.length > 0;
}

function showSignIn() {
  $("#signin").hidden = false;
  $("#email").focus();
  $("#signin-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const error = $("#signin-error");
    error.hidden = true;
    const email = $("#email").value.trim();
    const password = $("#password").value;
    if (!email || !password) return showError(error, "Enter your email and password.");
    try {
      await signIn(email, password);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      const messages = { 401: "Wrong email or password.", 429: "Too many attempts; wait a minute and try again." };
      return showError(error, messages[err.status] || err.describe());
    }
    location.reload();
  });
}

$("#project-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const error = $("#project-error");
  error.hidden = true;
  try {
    const { data } = await api("/projects", { method: "POST", body: { key: $("#project-key").value.trim(), name: $("#project-name").value.trim() } });
    location.assign(`/projects/${data.key}`);
  } catch (err) {
    showError(error, err);
  }
});

if (session.token) showProjects(); else showSignIn();
