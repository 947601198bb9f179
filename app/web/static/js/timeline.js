// An issue's timeline: its comments and its history (the events) in one list, in
// the order they happened. Entries are keyed (a comment by id, a change by event id), so
// what the first read and the live events both bring shows once; a comment shows its
// newest version, and a deleted one never comes back.
import { api, ApiError } from "./api.js";
import { renderMarkdown } from "./markdown.js";
import { h, initials, when } from "./ui.js";

const STATUS_NAMES = { open: "Open", in_progress: "In progress", resolved: "Resolved", closed: "Closed" };
const PRIORITY_NAMES = { low: "Low", medium: "Medium", high: "High", critical: "Critical" };
const quote = (text) => `“${text}”`;

export class Timeline {
  // `nameOf(id)`: a user's name; `mayChange(comment)`: whether this user may edit or delete it.
  constructor(list, { nameOf, mayChange }) {
    Object.assign(this, { list, nameOf, mayChange });
    this.entries = new Map(); // key -> {order, el, version?}
    this.deleted = new Set(); // comment ids
    this.editing = new Map(); // comment id -> {form, base}: comments being edited here
  }

  // The events as its timeline tells them (a change of fields, said in words).
  addEvent(event) {
    if (event.type !== "issue.updated") return;
    const key = `event-${event.id}`;
    if (this.entries.has(key)) return;
    const said = describeChanges(event.data.changes || {}, this.nameOf);
    if (!said) return;
    const el = h("li", { class: "change", id: key },
      h("span", { class: "avatar small", "aria-hidden": "true" }, initials(this.nameOf(event.actor_id))),
      h("p", {}, h("strong", {}, this.nameOf(event.actor_id)), ` ${said} · `,
        h("time", { datetime: event.at, title: when(event.at) }, ago(event.at))));
    this.place(key, [event.at, 0, event.seq], el);
  }

  addComment(comment) {
    if (this.deleted.has(comment.id)) return;
    const key = `comment-${comment.id}`;
    const known = this.entries.get(key);
    if (known && known.version >= comment.version) return;
    const el = this.commentEl(comment);
    const editing = this.editing.get(comment.id);
    if (editing) { // theirs shows above the edit, which goes on
      el.querySelector(".body").hidden = comment.version === editing.base.version;
      el.append(editing.form);
    }
    this.place(key, [comment.created_at, 1, comment.id], el, comment.version);
  }

  removeComment(id) {
    this.deleted.add(id);
    this.editing.delete(id);
    const known = this.entries.get(`comment-${id}`);
    if (known) known.el.remove();
    this.entries.delete(`comment-${id}`);
  }

  // Put an entry in its place (or in the place of its older self).
  place(key, order, el, version) {
    const known = this.entries.get(key);
    this.entries.set(key, { order, el, version });
    if (known) return known.el.replaceWith(el);
    let before = null;
    for (const [other, entry] of this.entries) {
      if (other !== key && compare(entry.order, order) > 0 && (!before || compare(entry.order, before.order) < 0)) before = entry;
    }
    this.list.insertBefore(el, before ? before.el : null);
    return undefined;
  }

  commentEl(comment) {
    const body = h("div", { class: "body markdown" }, renderMarkdown(comment.body));
    const edited = comment.version > 1 ? h("span", { class: "muted", title: when(comment.updated_at) }, " · edited") : null;
    const actions = this.mayChange(comment) ? h("span", { class: "actions" },
      h("button", { type: "button", class: "link", onclick: () => this.edit(comment) }, "Edit"),
      h("button", { type: "button", class: "link danger", onclick: () => this.confirmDelete(comment) }, "Delete")) : null;
    return h("li", { id: `comment-${comment.id}`, class: "comment", dataset: { commentId: comment.id } },
      h("header", {}, h("span", { class: "avatar small", "aria-hidden": "true" }, initials(this.nameOf(comment.author_id))),
        h("strong", {}, this.nameOf(comment.author_id)), " commented · ",
        h("time", { datetime: comment.created_at, title: when(comment.created_at) }, ago(comment.created_at)), edited, actions),
      body);
  }

  // Edit a comment in place, from the version shown. If someone saves first, the save is
  // refused (412) and their version shows above; saving again puts this one in its place.
  edit(comment) {
    if (this.editing.has(comment.id)) return;
    const el = this.entries.get(`comment-${comment.id}`).el;
    const field = h("textarea", { rows: 4, maxlength: 65536, "aria-label": "Edit comment" }, comment.body);
    const error = h("p", { class: "error", role: "alert", hidden: true });
    const editing = { base: comment };
    const done = () => {
      this.editing.delete(comment.id);
      editing.form.remove();
      const current = this.entries.get(`comment-${comment.id}`);
      if (current) current.el.querySelector(".body").hidden = false;
    };
    editing.form = h("form", { class: "comment-edit", onsubmit: async (e) => {
      e.preventDefault();
      try {
        const { data } = await api(`/comments/${comment.id}`, {
          method: "PATCH", body: { body: field.value }, headers: { "If-Match": `"${editing.base.version}"` } });
        done();
        this.addComment(data);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        if (err.status === 412) {
          editing.base = { ...editing.base, version: this.entries.get(`comment-${comment.id}`).version };
          error.textContent = "Someone edited this comment first: theirs is shown above. Save again to replace it with yours.";
        } else error.textContent = err.describe();
        error.hidden = false;
      }
    } }, field, error, h("button", { type: "submit" }, "Save comment"), " ",
    h("button", { type: "button", class: "secondary", onclick: done }, "Cancel"));
    this.editing.set(comment.id, editing);
    el.querySelector(".body").hidden = true;
    el.append(editing.form);
    field.focus();
  }

  confirmDelete(comment) {
    const el = this.entries.get(`comment-${comment.id}`).el;
    const ask = h("p", { class: "confirm", role: "alert" }, "Delete this comment? ",
      h("button", { type: "button", class: "danger", onclick: async () => {
        try {
          await api(`/comments/${comment.id}`, { method: "DELETE" });
          this.removeComment(comment.id);
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          ask.textContent = err.status === 404 ? "This comment is already gone." : err.describe();
        }
      } }, "Delete comment"), " ",
      h("button", { type: "button", class: "secondary", onclick: () => ask.remove() }, "Keep it"));
    el.append(ask);
    ask.querySelector("button").focus();
  }
}

function compare(a, b) {
  for (let i = 0; i < a.length; i++) {
    if (a[i] < b[i]) return -1;
    if (a[i] > b[i]) return 1;
  }
  return 0;
}

// "changed the status from Open to Resolved, added the label ui", from an event's changes.
export function describeChanges(changes, nameOf) {
  const said = [];
  for (const [field, [before, after]] of Object.entries(changes)) {
    if (field === "status") said.push(`changed the status from ${STATUS_NAMES[before]} to ${STATUS_NAMES[after]}`);
    else if (field === "priority") said.push(`changed the priority from ${PRIORITY_NAMES[before]} to ${PRIORITY_NAMES[after]}`);
    else if (field === "title") said.push(`renamed this issue from ${quote(before)} to ${quote(after)}`);
    else if (field === "description") said.push("edited the description");
    else if (field === "assignee_id") {
      if (after && before) said.push(`assigned ${nameOf(after)} instead of ${nameOf(before)}`);
      else said.push(after ? `assigned ${nameOf(after)}` : `unassigned ${nameOf(before)}`);
    } else if (field === "labels") {
      const added = after.filter((l) => !before.includes(l));
      const removed = before.filter((l) => !after.includes(l));
      if (added.length) said.push(`added the label${added.length > 1 ? "s" : ""} ${added.join(", ")}`);
      if (removed.length) said.push(`removed the label${removed.length > 1 ? "s" : ""} ${removed.join(", ")}`);
    }
  }
  return said.join(", ");
}

// "just now", "5 minutes ago", ..., then the date.
export function ago(iso) {
  const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} minute${Math.round(seconds / 60) === 1 ? "" : "s"} ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} hour${Math.round(seconds / 3600) === 1 ? "" : "s"} ago`;
  return when(iso);
}
