// `/projects/KEY`: the board. Issues with filters, sort and search, kept live over /realtime.
import { api, listAll } from "./api.js";
import { connect, reportTyping, Room } from "./realtime.js";
import { $, chrome, debounce, flash, h, label, showError, when } from "./ui.js";

const user = chrome();
const key = location.pathname.split("/").pop();
const filters = $("#filters");
const state = { cursor: null, shown: 0, members: new Map(), ticket: 0 };

function query(extra = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(filters)) if (value) params.set(name, value);
  for (const [name, value] of Object.entries(extra)) params.set(name, value);
  return params;
}

function row(issue) {
  const assignee = issue.assignee_id ? (state.members.get(issue.assignee_id) || `#${issue.assignee_id}`) : "";
  return h("tr", { dataset: { issueId: issue.id } },
    h("td", {}, h("a", { href: `/issues/${issue.key}` }, issue.key)),
    h("td", {}, h("a", { href: `/issues/${issue.key}` }, issue.title)),
    h("td", {}, h("span", { class: `pill status-${issue.status}` }, label(issue.status))),
    h("td", {}, h("span", { class: `pill priority-${issue.priority}` }, issue.priority)),
    h("td", {}, assignee),
    h("td", {}, issue.labels.map((l) => h("span", { class: "tag" }, l))),
    h("td", {}, h("time", { datetime: issue.updated_at }, when(issue.updated_at))));
}

// (Re)load the list from the API with the current filters; keep as many rows as were shown.
async function load({ append = false } = {}) {
  const limit = append ? 50 : Math.min(200, Math.max(50, state.shown));
  const params = query({ limit });
  if (append && state.cursor) params.set("cursor", state.cursor);
  const shown = query().toString();
  history.replaceState(null, "", shown ? `?${shown}` : location.pathname);
  const ticket = ++state.ticket;
  let page;
  try {
    page = (await api(`/projects/${key}/issues?${params}`)).data;
  } catch (err) {
    if (err.status === 0) return undefined; // unreachable: the re-join after reconnecting loads again
    return flash(err.status === 404 ? "This project does not exist or you cannot see it." : err.describe());
  }
  if (ticket !== state.ticket) return; // a newer load is on its way: drop this older answer
  const rows = page.items.map(row);
  // A live re-render must not take the keyboard focus away from the row link it was on.
  const focused = $("#issue-rows").contains(document.activeElement) ? document.activeElement : null;
  const focusedAt = focused && [...$("#issue-rows").querySelectorAll("a")].indexOf(focused) % 2;
  if (append) $("#issue-rows").append(...rows); else $("#issue-rows").replaceChildren(...rows);
  if (focused && !focused.isConnected) {
    const again = [...$("#issue-rows").querySelectorAll(`a[href="${focused.getAttribute("href")}"]`)][focusedAt];
    if (again) again.focus();
  }
  state.shown = $("#issue-rows").children.length;
  state.cursor = page.next_cursor;
  $("#more").hidden = !page.next_cursor;
  $("#empty").hidden = state.shown > 0;
}

const reload = debounce(() => load(), 30); // one re-fetch for a burst of events

function restoreFilters() {
  const params = new URLSearchParams(location.search);
  for (const el of filters.elements) if (params.has(el.name)) el.value = params.get(el.name);
}

async function start() {
  restoreFilters();
  // connect() gives the one socket of the page, however often start() runs.
  const socket = connect((status) => { $("#live-status").textContent = status === "live" ? "Live" : `Live updates ${status}…`; });
  let project;
  let members;
  try {
    [project, members] = await Promise.all([api(`/projects/${key}`), listAll(`/projects/${key}/members`)]);
  } catch (err) {
    if (err.status === 0) return setTimeout(start, 2000); // the server is unreachable: try again
    return flash(err.status === 404 ? "This project does not exist or you cannot see it." : err.describe());
  }
  $("#project-title").textContent = project.data.name;
  document.title = `${project.data.name} · Beacon`;
  for (const m of members) {
    state.members.set(m.user_id, m.name);
    $("#f-assignee").append(h("option", { value: m.user_id }, m.name));
  }
  restoreFilters(); // now that the assignee options exist
  load(); // at once, socket or not
  const room = new Room(socket, `project:${key}`, {
    onJoined: () => load(), // again on every (re-)join: nothing between the list and the room is missed
    onEvent: (event) => {
      if (event.type.startsWith("issue.")) reload();
      if (event.type === "member.added" || event.type === "member.removed") flash("Project members changed; reload for the new list.");
    },
    onPresence: (presence) => presence.render($("#avatars"), $("#typing"), user.id),
    onRefused: (error) => flash(`Live updates are off: ${error}.`),
  });
  reportTyping(room, $("#new-title"));
  reportTyping(room, $("#new-description"));
  socket.on("room.closed", (data) => data.room === room.name && flash("This project was deleted."));
}

filters.addEventListener("change", () => load());
filters.addEventListener("submit", (e) => { e.preventDefault(); load(); });
$("#f-q").addEventListener("input", debounce(() => load(), 250));
$("#f-label").addEventListener("input", debounce(() => load(), 250));
$("#more").addEventListener("click", () => load({ append: true }));

$("#issue-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const error = $("#issue-error");
  error.hidden = true;
  const labels = $("#new-labels").value.split(",").map((l) => l.trim()).filter(Boolean);
  const body = { title: $("#new-title").value.trim(), priority: $("#new-priority").value, labels };
  if ($("#new-description").value) body.description = $("#new-description").value;
  try {
    const { data } = await api(`/projects/${key}/issues`, { method: "POST", body });
    e.target.reset();
    $("#new-title").blur();
    flash(`Created ${data.key}.`);
    reload();
  } catch (err) {
    showError(error, err);
  }
});

if (user) start();
