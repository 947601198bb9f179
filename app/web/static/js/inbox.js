// `/inbox`: the signed-in user's notifications, newest first, live: new ones appear at the
// top as the bell hears of them (`beacon:notifications`). Each can be marked read, or all
// at once; the bell then reads its count again (`beacon:read`).
import { api, listAll } from "./api.js";
import { $, chrome, h, showError, when } from "./ui.js";

chrome();
const list = $("#inbox");
const WHAT = {
  assigned: "assigned you to", mentioned: "mentioned you in", commented: "commented on",
  status_changed: "changed the status of", updated: "updated",
};
const shown = new Map(); // id -> notification
const names = new Map(); // user id -> name, from the members of the projects shown
const projectsRead = new Set();
let cursor = null;

// Who acted, by name: the members of each project in the list are read once.
async function learnNames(notifications) {
  const missing = [...new Set(notifications.map((n) => n.project))].filter((key) => !projectsRead.has(key));
  await Promise.all(missing.map(async (key) => {
    projectsRead.add(key);
    try {
      for (const m of await listAll(`/projects/${key}/members`)) names.set(m.user_id, m.name);
    } catch {
      // a project no longer readable: its actors stay "someone"
    }
  }));
}

function item(n) {
  const read = h("button", { type: "button", class: "secondary", onclick: () => markRead([n.id]) }, "Mark read");
  return h("li", { class: n.read_at ? "read" : "unread", dataset: { id: n.id } },
    h("span", {}, `${names.get(n.actor_id) || "Someone"} ${WHAT[n.type] || n.type} `,
      h("a", { href: `/issues/${n.issue_key}` }, n.issue_key)),
    h("span", { class: "when" }, when(n.at)),
    n.read_at ? null : read);
}

function render() {
  const unreadOnly = $("#unread-only").checked;
  const items = [...shown.values()].filter((n) => !unreadOnly || !n.read_at).sort((a, b) => b.id - a.id);
  list.replaceChildren(...items.map(item));
  $("#inbox-empty").hidden = items.length > 0;
  $("#more").hidden = !cursor;
}

async function load(more = false) {
  const query = new URLSearchParams({ limit: "50" });
  if ($("#unread-only").checked) query.set("unread", "true");
  if (more && cursor) query.set("cursor", cursor);
  try {
    const { data } = await api(`/notifications?${query}`);
    await learnNames(data.items);
    if (!more) shown.clear();
    for (const n of data.items) shown.set(n.id, n);
    cursor = data.next_cursor;
    render();
  } catch (err) {
    showError($("#inbox-error"), err);
  }
}

async function markRead(ids) {
  try {
    await api("/notifications/read", { method: "POST", body: ids ? { ids } : { all: true } });
    const now = new Date().toISOString();
    for (const n of shown.values()) if (!ids || ids.includes(n.id)) n.read_at = n.read_at || now;
    render();
    document.dispatchEvent(new CustomEvent("beacon:read"));
  } catch (err) {
    showError($("#inbox-error"), err);
  }
}

$("#mark-all").addEventListener("click", () => markRead(null));
$("#unread-only").addEventListener("change", () => load());
$("#more").addEventListener("click", () => load(true));
document.addEventListener("beacon:notifications", async (e) => {
  await learnNames(e.detail);
  for (const n of e.detail) shown.set(n.id, n);
  render();
});
load();
