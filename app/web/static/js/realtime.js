// The /realtime namespace: rooms whose events arrive once each and in seq order, presence,
// and typing reports. A page never misses an event silently: a gap in a project's seqs is
// filled from the change feed, and a re-join (after a reconnect, or when the server says
// `events.gap`) asks for the events after the last seq the page holds.
import { io } from "../vendor/socket.io.esm.min.js";
import { api, ApiError, session } from "./api.js";
import { h, initials } from "./ui.js";

const EVENT_TYPES = ["project.created", "project.updated", "issue.created", "issue.updated", "issue.deleted",
  "comment.created", "comment.updated", "comment.deleted", "member.added", "member.removed", "attachment.added",
  "attachment.removed"];

let shared = null;

// One socket per page (the bell in the header and the page's own rooms share it); its rooms
// re-join (after the last seq they hold) when it reconnects. Each caller's `onStatus` hears
// of its connection state.
export function connect(onStatus = () => {}) {
  if (shared) {
    listenForStatus(shared, onStatus);
    if (shared.connected) onStatus("live");
    return shared;
  }
  // WebSocket first (one handshake, no sticky polling), long-polling if it cannot connect;
  // closing on unload tells the others at once that this tab left.
  const socket = io("/realtime", {
    auth: { token: session.token }, transports: ["websocket", "polling"], tryAllTransports: true, closeOnBeforeunload: true, reconnectionDelayMax: 3000,
  });
  listenForStatus(socket, onStatus);
  socket.on("session.ended", async () => {
    // The server closes sockets whose token was revoked; this tab's token may be the one.
    await api("/projects?limit=1").catch(() => {});
  });
  shared = socket;
  return socket;
}

function listenForStatus(socket, onStatus) {
  socket.on("connect", () => onStatus("live"));
  socket.on("disconnect", () => onStatus("reconnecting"));
  socket.on("connect_error", () => onStatus("offline"));
}

// The issue an event is about, if any (an issue's own events, and its comments').
export const issueIdOf = (event) => (event.data && (event.data.issue_id ?? (event.data.issue && event.data.issue.id))) ?? null;

// A room of the socket. Its events reach `onEvent` once each, in seq order.
// - `project:KEY` rooms get every seq of their project, so a jump is a gap: it is filled
//   from /projects/KEY/events before the event that revealed it is delivered.
// - `afterSeq`: the seq the page's data shows; the first join asks for the events after it.
// - `events: false`: presence only (the page takes its events from another room).
// - `onStale`: a join that could not catch up (too far behind): reload, then `restart(seq)`.
export class Room {
  constructor(socket, name, {
    onEvent = () => {}, onPresence = () => {}, onJoined = () => {}, onRefused = () => {}, onStale = null,
    afterSeq = null, events = true,
  } = {}) {
    Object.assign(this, { socket, name, onEvent, onPresence, onJoined, onRefused, onStale, events });
    this.lastSeq = afterSeq;
    this.project = name.startsWith("project:") ? name.slice("project:".length) : null;
    this.issueId = name.startsWith("issue:") ? Number(name.slice("issue:".length)) : null;
    this.waiting = []; // events after a gap, until the gap is filled
    this.filling = false;
    this.joined = false;
    this.presence = new Presence();
    const mine = (payload) => payload && payload.room === this.name;
    this.handlers = {
      "events.bulk": (bulk) => mine(bulk) && bulk.events.forEach((event) => this.deliver(event)),
      "events.gap": (gap) => mine(gap) && this.rejoin(gap.after_seq),
      "presence.state": (state) => mine(state) && (this.presence.reset(state.members), this.onPresence(this.presence)),
      "presence.diff": (diff) => mine(diff) && (this.presence.apply(diff), this.onPresence(this.presence)),
      connect: () => this.join(),
      disconnect: () => { this.joined = false; },
    };
    for (const type of EVENT_TYPES) this.handlers[type] = (event) => this.deliver(event);
    for (const [event, handler] of Object.entries(this.handlers)) socket.on(event, handler);
    if (socket.connected) this.join();
  }

  join() {
    if (this.closed) return;
    const payload = { room: this.name };
    const catchingUp = this.events && this.lastSeq !== null;
    if (catchingUp) payload.after_seq = this.lastSeq;
    this.socket.emit("join", payload, (ack) => {
      if (!ack || !ack.ok) {
        if (catchingUp && this.onStale && this.socket.connected) return this.onStale(ack ? ack.error : "no answer");
        return this.onRefused(ack ? ack.error : "no answer");
      }
      this.joined = true;
      const first = !this.joinedBefore;
      this.joinedBefore = true;
      this.presence.reset(ack.presence);
      this.onPresence(this.presence);
      // The replay came before the ack, and later events arrive live after ack.seq. An issue's
      // room skips the seqs of other issues, so it may move on to ack.seq; a project's room
      // without a seq of its own starts there.
      if (this.events && typeof ack.seq === "number" && (this.project === null || this.lastSeq === null)) {
        this.lastSeq = Math.max(this.lastSeq ?? 0, ack.seq);
      }
      // Unreachable now: the next re-join loads again. Anything else is a bug and stays loud.
      Promise.resolve(this.onJoined(ack, first)).catch((err) => { if (err.status !== 0) throw err; });
    });
  }

  // Join again from `afterSeq` (the server's `events.gap`, or a page that reloaded its data).
  rejoin(afterSeq) {
    if (this.closed) return;
    if (typeof afterSeq === "number" && (this.lastSeq === null || afterSeq < this.lastSeq)) this.lastSeq = afterSeq;
    this.waiting = [];
    if (!this.joined) return this.join();
    this.joined = false;
    this.socket.emit("leave", { room: this.name }, () => this.join());
  }

  restart(afterSeq) {
    this.lastSeq = afterSeq;
    this.rejoin(afterSeq);
  }

  close() {
    this.closed = true;
    for (const [event, handler] of Object.entries(this.handlers)) this.socket.off(event, handler);
    this.socket.emit("leave", { room: this.name });
  }

  owns(event) {
    if (this.project !== null) return event.project === this.project;
    if (this.issueId !== null) return issueIdOf(event) === this.issueId;
    return true;
  }

  deliver(event) {
    if (this.closed || !this.events || !event || typeof event.seq !== "number" || !this.owns(event)) return;
    if (this.lastSeq !== null && event.seq <= this.lastSeq) return; // shown already (replay, or a second room)
    if (this.project !== null && this.lastSeq !== null && (this.filling || event.seq > this.lastSeq + 1)) {
      this.waiting.push(event);
      if (!this.filling) this.fill();
      return;
    }
    this.lastSeq = event.seq;
    this.onEvent(event);
  }

  // Read the events between the last one shown and those waiting from the change feed.
  async fill() {
    this.filling = true;
    try {
      while (this.waiting.length) {
        const upTo = Math.min(...this.waiting.map((e) => e.seq)) - 1;
        while (this.lastSeq < upTo) {
          const limit = Math.min(200, upTo - this.lastSeq);
          const page = (await api(`/projects/${this.project}/events?after_seq=${this.lastSeq}&limit=${limit}`)).data;
          if (!page.items.length) break; // the feed holds no more (a restore rewound it): take what came
          for (const event of page.items) if (event.seq > this.lastSeq && event.seq <= upTo) this.accept(event);
        }
        const waiting = this.waiting.sort((a, b) => a.seq - b.seq);
        this.waiting = [];
        for (const event of waiting) if (event.seq > this.lastSeq) this.accept(event);
      }
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      // Keep what waits: the next event tries again, and a re-join replays from lastSeq.
    } finally {
      this.filling = false;
    }
  }

  accept(event) {
    this.lastSeq = event.seq;
    this.onEvent(event);
  }

  update(state) {
    this.socket.emit("presence.update", { room: this.name, state });
  }
}

// Who is in a room: members by user id, as presence.state and presence.diff describe them.
export class Presence {
  constructor() { this.members = new Map(); }

  reset(members) {
    this.members = new Map((members || []).map((m) => [m.user_id, m]));
  }

  apply({ joins = [], leaves = [], updates = [] }) {
    for (const m of [...joins, ...updates]) this.members.set(m.user_id, m);
    for (const m of leaves) this.members.delete(m.user_id);
  }

  withStatus(status, exceptUserId) {
    return [...this.members.values()].filter((m) => m.user_id !== exceptUserId && m.state && m.state.status === status);
  }

  // The members other than `selfId` whose state names an issue: issue id -> [member].
  byIssue(selfId) {
    const found = new Map();
    for (const m of this.members.values()) {
      const issueId = m.state && m.state.issue_id;
      if (m.user_id === selfId || !issueId) continue;
      if (!found.has(issueId)) found.set(issueId, []);
      found.get(issueId).push(m);
    }
    return found;
  }

  // Avatars (initials, full name as the accessible name) and "X is typing…".
  render(avatarsEl, typingEl, selfId) {
    const members = [...this.members.values()].sort((a, b) => a.name.localeCompare(b.name));
    avatarsEl.replaceChildren(...members.map((m) => h("li", {
      class: `avatar${m.user_id === selfId ? " me" : ""}${m.state && m.state.status === "typing" ? " typing" : ""}`,
      title: m.user_id === selfId ? `${m.name} (you)` : m.name, "aria-label": m.name, dataset: { userId: m.user_id },
    }, initials(m.name))));
    const said = (status, one, many) => {
      const names = this.withStatus(status, selfId).map((m) => m.name);
      return names.length === 0 ? "" : names.length === 1 ? `${names[0]} ${one}` : `${names.join(", ")} ${many}`;
    };
    typingEl.textContent = [said("typing", "is typing…", "are typing…"), said("editing", "is editing", "are editing")]
      .filter(Boolean).join(" · ");
  }
}

// Report "typing" while the user types in `field` (refreshed every 2 s), then `rest()` after a pause.
export function reportTyping(room, field, extra = {}, rest = () => "viewing") {
  let sentAt = 0;
  let idle;
  const stop = () => {
    clearTimeout(idle);
    if (sentAt) room.update({ status: rest(), ...extra });
    sentAt = 0;
  };
  field.addEventListener("input", () => {
    if (Date.now() - sentAt > 2000) {
      room.update({ status: "typing", ...extra });
      sentAt = Date.now();
    }
    clearTimeout(idle);
    idle = setTimeout(stop, 3000);
  });
  field.addEventListener("blur", stop);
  return stop;
}
