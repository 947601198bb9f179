// `/issues/KEY-N`: the issue as people read it: the description in Markdown, then its
// comments and history in one live timeline. The title and description are edited in
// place from the version shown (a 412 shows the other change beside this one); the fields
// at the side save as they change. Who is here shows on this page and on the board's card.
import { api, ApiError, listAll } from "./api.js";
import { Attachments } from "./attachments.js";
import { renderMarkdown } from "./markdown.js";
import { attachMentions } from "./mentions.js";
import { connect, reportTyping, Room } from "./realtime.js";
import { ago, Timeline } from "./timeline.js";
import { $, chrome, flash, h, label, showError, when } from "./ui.js";

const user = chrome();
const issueKey = location.pathname.split("/").pop();
const projectKey = issueKey.split("-")[0];
const FIELDS = ["title", "description", "status", "priority", "assignee_id", "labels"];
const form = $("#edit");
const state = {
  issue: null, base: null, dirty: false, members: new Map(), role: null, lastChange: null, here: null, attachments: null,
};

const sameValue = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const nameOf = (id) => (id ? state.members.get(id) || `user #${id}` : "nobody");
const show = (field, value) => (field === "assignee_id" ? nameOf(value)
  : field === "labels" ? (value || []).join(", ") || "none" : field === "status" ? label(value) : String(value ?? ""));
const parseLabels = (text) => text.split(",").map((l) => l.trim()).filter(Boolean);
const editing = () => !form.hidden;

const timeline = new Timeline($("#timeline"), {
  nameOf,
  mayChange: (comment) => state.role === "maintainer" || (state.role === "member" && comment.author_id === user.id),
});

// Show an issue (newer than the one shown): heading, description, fields, and the edit
// form unless the user has changed something in it.
function fill(issue) {
  state.issue = issue;
  $("#issue-heading").textContent = `${issue.key} · ${issue.title}`;
  document.title = `${issue.key} ${issue.title} · Beacon`;
  $("#opened").replaceChildren(h("strong", {}, nameOf(issue.reporter_id)), " opened this issue · ",
    h("time", { datetime: issue.created_at, title: when(issue.created_at) }, ago(issue.created_at)));
  $("#description").replaceChildren(issue.description ? renderMarkdown(issue.description)
    : h("p", { class: "muted" }, "No description."));
  $("#status").value = issue.status;
  $("#priority").value = issue.priority;
  $("#assignee").value = issue.assignee_id ?? "";
  if (document.activeElement !== $("#labels")) $("#labels").value = issue.labels.join(", ");
  $("#meta").textContent = `Updated ${when(issue.updated_at)} · version ${issue.version}`;
  if (issue.watching !== undefined) showWatching(issue.watching); // reads carry it, events do not
  if (editing() && !state.dirty) openEditor(issue);
  $("#issue").hidden = false;
}

function showWatching(watching) {
  state.watching = watching;
  $("#watch").textContent = watching ? "Unwatch" : "Watch";
  $("#watch").setAttribute("aria-pressed", String(watching));
  $("#watch-hint").textContent = watching ? "You are notified of changes and comments."
    : "Get notified of changes and comments.";
}

function openEditor(base) {
  state.base = base;
  state.dirty = false;
  $("#title").value = base.title;
  $("#description-source").value = base.description || "";
  form.hidden = false;
  $("#description").hidden = true;
}

function closeEditor() {
  form.hidden = true;
  state.dirty = false;
  $("#description").hidden = false;
  $("#save-error").hidden = true;
}

// Send the fields of `mine` that differ from `base`, at base's version.
async function save(base, mine, force = false) {
  const changes = {};
  for (const f of FIELDS) if (!sameValue(mine[f], base[f])) changes[f] = mine[f];
  if (!Object.keys(changes).length) {
    closeEditor();
    $("#saved").textContent = "Nothing to save.";
    return;
  }
  try {
    const { data } = await api(`/issues/${base.id}`, { method: "PATCH", body: changes, headers: { "If-Match": `"${base.version}"` } });
    $("#conflict").hidden = true;
    $("#notice").hidden = true;
    closeEditor();
    if (data.version > state.issue.version) fill(data);
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
  $("#take-theirs").onclick = () => { $("#conflict").hidden = true; closeEditor(); fill(theirs); };
  // Only the fields this user changed go on top of theirs; their other changes stay.
  const mineOnTop = { ...theirs };
  for (const f of FIELDS) if (!sameValue(mine[f], base[f])) mineOnTop[f] = mine[f];
  $("#keep-mine").onclick = () => save(theirs, mineOnTop, true).catch((err) => showError($("#save-error"), err));
  $("#conflict").scrollIntoView();
  $("#take-theirs").focus();
}

// A field at the side changed: save it at once, at the version shown.
async function saveField(field, value) {
  const error = $("#fields-error");
  error.hidden = true;
  const base = state.issue;
  if (sameValue(base[field], value)) return;
  try {
    const { data } = await api(`/issues/${base.id}`, { method: "PATCH", body: { [field]: value }, headers: { "If-Match": `"${base.version}"` } });
    if (data.version > state.issue.version) fill(data);
    $("#saved").textContent = `Saved (version ${data.version}).`;
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.status === 412) {
      const theirs = (await api(`/issues/${base.id}`)).data;
      const changed = FIELDS.filter((f) => !sameValue(theirs[f], base[f])).map((f) => f.replace("_id", "")).join(", ");
      fill(theirs);
      return showError(error, `Someone changed ${changed || "this issue"} first (version ${theirs.version}); your ${field.replace("_id", "")} was not saved.`);
    }
    fill(state.issue); // put the field back
    showError(error, err);
  }
  return undefined;
}

function onEvent(event) {
  const data = event.data;
  // A comment event whose text was taken out (the comment changed since): a newer event of
  // that comment, replayed after it, brings its text or its deletion.
  if (data.redacted) return;
  if (event.type === "issue.updated") {
    timeline.addEvent(event);
    if (data.issue.version <= state.issue.version) return;
    state.lastChange = event;
    if (editing() && state.dirty) {
      const fields = Object.keys(data.changes || {}).join(", ");
      $("#notice").textContent = `${nameOf(event.actor_id)} changed ${fields} (version ${data.issue.version}) while you were editing.`;
      $("#notice").hidden = false;
    }
    fill(data.issue);
  } else if (event.type === "issue.deleted") {
    flash(`${nameOf(event.actor_id)} deleted this issue.`);
    $("#issue").hidden = true;
  } else if (event.type === "comment.created" || event.type === "comment.updated") {
    timeline.addComment(data.comment);
  } else if (event.type === "comment.deleted") {
    timeline.removeComment(data.comment.id);
  } else if (event.type === "attachment.added") {
    state.attachments.show(data.attachment);
  } else if (event.type === "attachment.removed") {
    state.attachments.removed(data.attachment.id);
  }
}

async function loadTimeline(issueId) {
  const [events, comments] = await Promise.all([listAll(`/issues/${issueId}/events`, 10_000), listAll(`/issues/${issueId}/comments`, 10_000)]);
  for (const event of events) timeline.addEvent(event);
  for (const comment of comments) timeline.addComment(comment);
  $("#timeline").dataset.loaded = "true";
}

async function start() {
  let issue;
  let members;
  let project;
  try {
    [issue, members, project] = await Promise.all([api(`/issues/by-key/${issueKey}`).then((r) => r.data),
      listAll(`/projects/${projectKey}/members`), api(`/projects/${projectKey}`).then((r) => r.data)]);
  } catch (err) {
    if (err.status === 0) return setTimeout(start, 2000); // the server is unreachable: try again
    return flash(err.status === 404 ? "This issue does not exist or you cannot see it." : err.describe());
  }
  state.role = user.is_admin ? "maintainer" : project.role;
  for (const m of members) {
    state.members.set(m.user_id, m.name);
    $("#assignee").append(h("option", { value: m.user_id }, m.name));
  }
  fill(issue);
  state.attachments = new Attachments({
    list: $("#attachments"), picker: $("#file-picker"), zone: $("#dropzone"), uploads: $("#uploads"),
    error: $("#attachment-error"),
  }, {
    issueId: issue.id,
    mayRemove: (item) => state.role === "maintainer" || (state.role === "member" && item.uploader_id === user.id),
  });
  listAll(`/issues/${issue.id}/attachments`).then((items) => state.attachments.load(items))
    .catch((err) => showError($("#attachment-error"), err));
  const socket = connect();
  const issueRoom = new Room(socket, `issue:${issue.id}`, {
    onJoined: (_ack, first) => (first ? loadTimeline(issue.id) : undefined), // later joins replay what was missed
    onEvent,
    onStale: async () => { // too far behind to replay: read afresh
      fill((await api(`/issues/${issue.id}`)).data);
      await loadTimeline(issue.id);
      issueRoom.restart(null);
    },
    onPresence: (presence) => presence.render($("#avatars"), $("#typing"), user.id),
    onRefused: (error) => flash(`Live updates are off: ${error}.`),
  });
  // In the project's room too, for presence only: the board shows who is on which card.
  let now = { status: "viewing", issue_id: issue.id };
  const projectRoom = new Room(socket, `project:${projectKey}`, { events: false, onJoined: () => projectRoom.update(now) });
  state.here = { update(presence) { now = presence; issueRoom.update(presence); projectRoom.update(presence); } };
  // Others see "editing" while focus is in the editor, "typing" while the user types.
  const inForm = () => (form.contains(document.activeElement) ? "editing" : "viewing");
  reportTyping(state.here, $("#comment-body"), { issue_id: issue.id });
  reportTyping(state.here, $("#description-source"), { issue_id: issue.id }, inForm);
  form.addEventListener("focusin", (e) => {
    if (!form.contains(e.relatedTarget)) state.here.update({ status: "editing", issue_id: issue.id });
  });
  form.addEventListener("focusout", (e) => {
    if (!form.contains(e.relatedTarget)) state.here.update({ status: "viewing", issue_id: issue.id });
  });
  return undefined;
}

$("#edit-issue").addEventListener("click", () => {
  openEditor(state.issue);
  $("#title").focus();
});
$("#cancel-edit").addEventListener("click", () => {
  closeEditor();
  $("#notice").hidden = true;
  $("#edit-issue").focus();
});
form.addEventListener("input", () => { state.dirty = true; });
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  $("#save-error").hidden = true;
  $("#saved").textContent = "";
  const mine = { ...state.base, title: $("#title").value.trim(), description: $("#description-source").value };
  try {
    await save(state.base, mine);
  } catch (err) {
    showError($("#save-error"), err);
  }
});

$("#watch").addEventListener("click", async () => {
  const watching = !state.watching;
  try {
    await api(`/issues/${state.issue.id}/watch`, { method: watching ? "PUT" : "DELETE" });
    showWatching(watching);
  } catch (err) {
    flash(err.describe ? err.describe() : err.message);
  }
});
attachMentions($("#comment-body"), projectKey);
attachMentions($("#description-source"), projectKey);

$("#status").addEventListener("change", (e) => saveField("status", e.target.value));
$("#priority").addEventListener("change", (e) => saveField("priority", e.target.value));
$("#assignee").addEventListener("change", (e) => saveField("assignee_id", e.target.value ? Number(e.target.value) : null));
$("#labels").addEventListener("change", (e) => saveField("labels", parseLabels(e.target.value)));
$("#fields").addEventListener("submit", (e) => e.preventDefault()); // Enter in Labels: its change event saves

$("#comment-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const error = $("#comment-error");
  error.hidden = true;
  const body = $("#comment-body").value;
  if (!body.trim()) return showError(error, "Write something first.");
  try {
    const { data } = await api(`/issues/${state.issue.id}/comments`, { method: "POST", body: { body } });
    $("#comment-body").value = "";
    timeline.addComment(data);
  } catch (err) {
    showError(error, err);
  }
  return undefined;
});

if (user) start();
