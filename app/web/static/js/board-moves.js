// Moving a card to another column: shown at once, then sent as a PATCH with If-Match. A
// refused move (412, 403, no network) puts the card back, or for a 412 shows the other
// person's version, and says why, on the page and to screen readers.
import { api, ApiError } from "./api.js";
import { STATUSES, STATUS_NAMES } from "./board-model.js";

const FIELDS = ["title", "status", "priority", "assignee_id", "labels"];
const PRIORITY_NAMES = { low: "Low", medium: "Medium", high: "High", critical: "Critical" };
const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

export class Mover {
  // `data()` is the board's BoardData; `render(statuses)` redraws columns; `say(text)`
  // announces; `fail(text)` shows an error.
  constructor({ data, render, say, fail, userId, nameOf }) {
    Object.assign(this, { data, render, say, fail, userId, nameOf });
    this.queue = new Map(); // issue id -> the promise of its latest move
    this.confirmed = new Map(); // issue id -> the issue as the server last confirmed it, while moves run
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

  // Show the move at once; send it once the card's earlier moves are through (each needs
  // the version the one before it made), and not at all if one of them was refused.
  async move(id, to) {
    const issue = this.data().issue(id);
    if (!issue || issue.status === to) return false;
    if (!this.queue.has(id)) this.confirmed.set(id, issue);
    this.data().change(id, { status: to });
    this.render([issue.status, to]);
    this.say(`${issue.key} moved to ${STATUS_NAMES[to]}.`);
    const earlier = this.queue.get(id) || Promise.resolve(true);
    const mine = earlier.then((ok) => ok && this.send(id, to, () => this.queue.get(id) !== mine));
    this.queue.set(id, mine);
    const ok = await mine;
    if (this.queue.get(id) === mine) this.queue.delete(id);
    return ok;
  }

  // `later()`: whether more moves of the card wait (the card keeps showing the last one).
  async send(id, to, later) {
    const server = this.confirmed.get(id);
    try {
      const { data: saved } = await api(`/issues/${id}`, {
        method: "PATCH", body: { status: to }, headers: { "If-Match": `"${server.version}"` },
      });
      this.confirmed.set(id, saved);
      const shown = this.data().issue(id);
      this.data().accepted(saved);
      if (shown && later()) this.data().change(id, { status: shown.status });
      this.render([to, saved.status]);
      return true;
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      const why = err.status === 412 ? await this.theirs(server) : err.describe();
      if (err.status !== 412) this.data().revert(id, server);
      const now = this.data().issue(id);
      this.render([server.status, to, now ? now.status : to]);
      const where = now ? ` It is in ${STATUS_NAMES[now.status]}.` : "";
      const text = `${server.key} was not moved to ${STATUS_NAMES[to]}: ${why}${where}`;
      this.fail(text);
      this.say(text);
      return false;
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
    const show = (field, value) => (field === "status" ? STATUS_NAMES[value] : field === "priority" ? PRIORITY_NAMES[value]
      : field === "assignee_id" ? (value ? this.nameOf(value) : "nobody")
        : field === "labels" ? (value.length ? value.join(", ") : "none") : value);
    const changes = FIELDS.filter((f) => !same(before[f], saved[f]))
      .map((f) => `${f.replace("_id", "")} ${show(f, before[f])} → ${show(f, saved[f])}`);
    return `${who} changed it first (${changes.join("; ") || `version ${saved.version}`}).`;
  }
}
