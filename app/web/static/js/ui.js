// Page chrome and small DOM helpers shared by every page.
import { session, signOut } from "./api.js";

// h("a", {href: "/x", class: "y"}, "text", child...) builds an element; strings become text.
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : value);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

export const $ = (selector) => document.querySelector(selector);

// What went wrong, in words: an API problem's detail and field errors, or an error's message.
export const describe = (error) => (error.describe ? error.describe() : error.message);

export function showError(el, error) {
  el.textContent = typeof error === "string" ? error : describe(error);
  el.hidden = false;
}

export function flash(message) {
  const el = $("#flash");
  el.textContent = message;
  el.hidden = !message;
}

export function when(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function initials(name) {
  return (name || "?").split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
}

export const label = (value) => (value ? String(value).replace("_", " ") : "");

export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// Header and sign-out; without a token, every page but home sends the visitor to sign in.
export function chrome({ requireSignIn = true } = {}) {
  const user = session.user;
  if (!session.token || !user) {
    if (requireSignIn) location.replace("/");
    return null;
  }
  $("#nav").hidden = false;
  $("#nav-admin").hidden = !user.is_admin;
  $("#who").hidden = false;
  $("#who-name").textContent = user.name;
  $("#sign-out").addEventListener("click", async () => {
    try { await signOut(); } finally { location.assign("/"); }
  });
  return user;
}
