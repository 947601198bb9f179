// `/issues/KEY-N`: edit with If-Match (a 412 shows the other change), live comments, typing.
import { api, ApiError, listAll } from "./api.js";
import { connect, reportTyping, Room } from "./realtime.js";
import { $, chrome, flash, h, label, showError, when } from "./ui.js";

const user = chrome();
const issueKey = location.pathname.split("/").pop();
const projectKey = issueKey.split("-")[0];
const FIELDS = ["title", "description", "status", "priority", "assignee_id", "labels"];
const form = $("#edit");
const state = { issue: null, members: new Map(), lastChange: null, dirty: false };

const sameValue = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const nameOf = (id) => (id ? state.members.get(id) || `user #${id}` : "nobody");
const show = (field, value) => (field === "assignee_id" ? nameOf(value)
  : field === "labels" ? (value || []).join(", ") || "none" : field === "status" ? label(value) : String(value ?? ""));

function formValues() {
  return {
    title: $("#title").value.trim(),
    description: $("#description").value,
    status: $("#status").value,
    priority: $("#priority").value,
    assignee_id: $("#assignee").value ? Number($("#assignee").value) : null,
    labels: $("#labels").value.split(",").map((l) => l.trim()).filter(Boolean),
  };
}

function fill(issue) {
  state.issue = issue;
  state.dirty = false;
  $("#issue-heading").textContent = `${issue.key} · ${issue.title}`;
  document.title = `${issue.key} ${issue.title} · Beacon`;
  $("#title").value = issue.title;
  $("#description").value = issue.description || "";
  $("#status").value = issue.status;
  $("#priority").value = issue.priority;
  $("#assignee").value = issue.assignee_id ?? "";
  $("#labels").value = issue.labels.join(", ");
  $("#meta").textContent = `Reported by ${nameOf(issue.reporter_id)} · created ${when(issue.created_at)} · version ${issue.version}`;
  form.hidden = false;
}

async function save(base, mine, force = false) {
  const changes = {};
  for (const f of FIELDS) if (!sameValue(mine[f], base[f])) changes[f] = mine[f];
  if (!Object.keys(changes).length) return ($("#saved").textContent = "Nothing to save.");
  try {
    const { data } = await api(`/issues/${base.id}`, { method: "PATCH", body: changes, headers: { "If-Match": `"${base.version}"` } });
    $("#conflict").hidden = true;
    fill(data);
    $("#saved").textContent = `Saved (version ${data.version}).`;
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 412 || force) throw err;
    await showConflict(base, mine);
  }
}

// Someone saved first: show their values beside ours; nothing of ours was written.
async function showConflict(base, mine) {
  const theirs = (await api(`/issues/${base.id}`)).data;
  const rows = FIELDS.filter((f) => !sameValue(theirs[f], base[f]) || !sameValue(mine[f], base[f]))
    .map((f) => h("tr", {}, h("th", { scope: "row" }, f.replace("_id", "")), h("td", {}, show(f, theirs[f])),
      h("td", {}, sameValue(mine[f], base[f]) ? "(not changed by you)" : show(f, mine[f]))));
  $("#conflict-rows").replaceChildren(...rows);
  const who = state.lastChange && state.lastChange.data.issue.version === theirs.version ? nameOf(state.lastChange.actor_id) : "Someone";
  $("#conflict-who").textContent = `${who} saved version ${theirs.version} after you opened version ${base.version}. Your changes were not saved.`;
  $("#conflict").hidden = false;
  $("#take-theirs").onclick = () => { $("#conflict").hidden = true; fill(theirs); };
  // Only the fields this user changed go on top of theirs; their other changes stay.
  const mineOnTop = { ...theirs };
  for (const f of FIELDS) if (!sameValue(mine[f], base[f])) mineOnTop[f] = mine[f];
  $("#keep-mine").onclick = () => save(theirs, mineOnTop, true).catch((err) => showError($("#save-error"), err));
  $("#conflict").scrollIntoView();
  $("#take-theirs").focus();
}

const comment = (c) => h("li", { id: `comment-${c.id}`, class: "comment" },
  h("p", { class: "muted" }, h("strong", {}, nameOf(c.author_id)), ` · ${when(c.created_at)}`), h("p", { class: "body" }, c.body));

function onEvent(event) {
  const data = event.data;
  // A comment event whose text was taken out (the comment changed since): a newer event of
  // that comment, replayed after it, brings its text or its deletion.
  if (data.redacted) return;
  if (event.type === "issue.updated" && data.issue.id === state.issue.id) {
    state.lastChange = event;
    if (!state.dirty) return fill(data.issue);
    const fields = Object.keys(data.changes || {}).join(", ");
    $("#notice").textContent = `${nameOf(event.actor_id)} changed ${fields} (version ${data.issue.version}) while you were editing.`;
    $("#notice").hidden = false;
  } else if (event.type === "issue.deleted" && data.issue.id === state.issue.id) {
    flash(`${nameOf(event.actor_id)} deleted this issue.`);
    form.hidden = true;
  } else if (event.type === "comment.created" && data.issue_id === state.issue.id) {
    if (!document.getElementById(`comment-${data.comment.id}`)) $("#comments").append(comment(data.comment));
  } else if (event.type === "comment.updated" && data.issue_id === state.issue.id) {
    document.getElementById(`comment-${data.comment.id}`)?.replaceWith(comment(data.comment));
  } else if (event.type === "comment.deleted" && data.issue_id === state.issue.id) {
    document.getElementById(`comment-${data.comment.id}`)?.remove();
  }
}

async function start() {
  let issue;
  let members;
  try {
    [issue, members] = await Promise.all([api(`/issues/by-key/${issueKey}`).then((r) => r.data),
      listAll(`/projects/${projectKey}/members`)]);
  } catch (err) {
    if (err.status === 0) return setTimeout(start, 2000); // the server is unreachable: try again
    return flash(err.status === 404 ? "This issue does not exist or you cannot see it." : err.describe());
  }
  for (const m of members) {
    state.members.set(m.user_id, m.name);
    $("#assignee").append(h("option", { value: m.user_id }, m.name));
  }
  fill(issue);
  const room = new Room(connect(), `issue:${issue.id}`, {
    onJoined: async (_ack, first) => {
      const comments = await listAll(`/issues/${issue.id}/comments`);
      $("#comments").replaceChildren(...comments.map(comment));
      if (!first && !state.dirty) fill((await api(`/issues/${issue.id}`)).data);
    },
    onEvent,
    onPresence: (presence) => presence.render($("#avatars"), $("#typing"), user.id),
    onRefused: (error) => flash(`Live updates are off: ${error}.`),
  });
  // Others see "editing" while focus is in the form, "typing" while the user types.
  const inForm = () => (form.contains(document.activeElement) ? "editing" : "viewing");
  reportTyping(room, $("#comment-body"), { issue_id: issue.id });
  reportTyping(room, $("#description"), { issue_id: issue.id }, inForm);
  form.addEventListener("focusin", (e) => {
    if (!form.contains(e.relatedTarget)) room.update({ status: "editing", issue_id: issue.id });
  });
  form.addEventListener("focusout", (e) => {
    if (!form.contains(e.relatedTarget)) room.update({ status: "viewing", issue_id: issue.id });
  });
}

form.addEventListener("input", () => { state.dirty = true; });
form.addEventListener("change", () => { state.dirty = true; });
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  $("#save-error").hidden = true;
  $("#saved").textContent = "";
  try {
    await save(state.issue, formValues());
  } catch (err) {
    showError($("#save-error"), err);
  }
});

$("#comment-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const error = $("#comment-error");
  error.hidden = true;
  const body = $("#comment-body").value;
  if (!body.trim()) return showError(error, "Write something first.");
  try {
    const { data } = await api(`/issues/${state.issue.id}/comments`, { method: "POST", body: { body } });
    $("#comment-body").value = "";
    if (!document.getElementById(`comment-${data.id}`)) $("#comments").append(comment(data));
  } catch (err) {
    showError(error, err);
  }
});

if (user) start();
