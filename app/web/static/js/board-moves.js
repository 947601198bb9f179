// Moving a card to another column: shown at once, then sent as a PATCH with If-Match. A
// refused move (412, 403, no network) puts the card back, or for a 412 shows the other
// person's version, and says why, on the page and to screen readers.
import { api, ApiError } from "./api.js";
import { STATUSES, STATUS_NAMES } from "./board-model.js";

const FIELDS = ["title", "status", "priority", "assignee_id", "labels"];
const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

export class Mover {
  // `data()` is the board's BoardData; `render(statuses)` redraws columns; `say(text)`
  // announces; `fail(text)` shows an error.
  constructor({ data, render, say, fail, userId, nameOf }) {
    Object.assign(this, { data, render, say, fail, userId, nameOf });
    this.moving = new Set();
  }

  // One column left (-1) or right (+1), from the keyboard.
  step(id, direction) {
    const issue = this.data().issue(id);
    const to = STATUSES[STATUSES.indexOf(issue.status) + direction];
    if (!to) {
      this.say(`${issue.key} is already in the ${direction < 0 ? "first" : "last"} column, ${STATUS_NAMES[issue.status]}.`);
      return Promise.resolve();
    }
    return this.move(id, to);
  }

  async move(id, to) {
    const issue = this.data().issue(id);
    if (!issue || issue.status === to) return;
    if (this.moving.has(id)) {
      this.say(`${issue.key} is still being moved; wait a moment.`);
      return;
    }
    this.moving.add(id);
    const before = this.data().change(id, { status: to });
    this.render([before.status, to]);
    this.say(`${issue.key} moved to ${STATUS_NAMES[to]}.`);
    try {
      const { data: saved } = await api(`/issues/${id}`, {
        method: "PATCH", body: { status: to }, headers: { "If-Match": `"${before.version}"` },
      });
      this.data().accepted(saved);
      this.render([to, saved.status]);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      const why = err.status === 412 ? await this.theirs(before) : err.describe();
      if (err.status !== 412) this.data().revert(id, before);
      const now = this.data().issue(id);
      this.render([before.status, to, now ? now.status : to]);
      const where = now ? ` It is in ${STATUS_NAMES[now.status]}.` : "";
      const text = `${issue.key} was not moved to ${STATUS_NAMES[to]}: ${why}${where}`;
      this.fail(text);
      this.say(text);
    } finally {
      this.moving.delete(id);
    }
  }

  // After a 412: read the issue as saved, show it, and say who changed what.
  async theirs(before) {
    let saved;
    try {
      saved = (await api(`/issues/${before.id}`)).data;
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      this.data().revert(before.id, before);
      return err.status === 404 ? "it was deleted." : "someone changed it first.";
    }
    this.data().revert(before.id, before);
    this.data().accepted(saved);
    const change = this.data().lastChangeBy(before.id, this.userId);
    const who = change && change.data.issue.version === saved.version ? this.nameOf(change.actor_id) : "Someone";
    const show = (field, value) => (field === "status" ? STATUS_NAMES[value]
      : field === "assignee_id" ? (value ? this.nameOf(value) : "nobody")
        : field === "labels" ? (value.length ? value.join(", ") : "none") : value);
    const changes = FIELDS.filter((f) => !same(before[f], saved[f]))
      .map((f) => `${f.replace("_id", "")} ${show(f, before[f])} → ${show(f, saved[f])}`);
    return `${who} changed it first (${changes.join("; ") || `version ${saved.version}`}).`;
  }
}
