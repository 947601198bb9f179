// The /realtime namespace: rooms with catch-up by seq, presence, and typing reports.
import { io } from "../vendor/socket.io.esm.min.js";
import { api, session } from "./api.js";
import { h, initials } from "./ui.js";

const EVENT_TYPES = ["project.created", "project.updated", "issue.created", "issue.updated", "issue.deleted",
  "comment.created", "comment.updated", "comment.deleted", "member.added", "member.removed"];

let shared = null;

// One socket per page; it re-joins its rooms (after the last seq seen) when it reconnects.
export function connect(onStatus = () => {}) {
  if (shared) return shared;
  // WebSocket first (one handshake, no sticky polling), long-polling if it cannot connect;
  // closing on unload tells the others at once that this tab left.
  const socket = io("/realtime", {
    auth: { token: session.token }, transports: ["websocket", "polling"], tryAllTransports: true, closeOnBeforeunload: true, reconnectionDelayMax: 3000,
  });
  socket.on("connect", () => onStatus("live"));
  socket.on("disconnect", () => onStatus("reconnecting"));
  socket.on("connect_error", () => onStatus("offline"));
  socket.on("session.ended", async () => {
    // The server closes sockets whose token was revoked; this tab's token may be the one.
    await api("/projects?limit=1").catch(() => {});
  });
  shared = socket;
  return socket;
}

// A room of the socket: events in seq order (each once), presence, and re-joins.
export class Room {
  constructor(socket, name, { onEvent = () => {}, onPresence = () => {}, onJoined = () => {}, onRefused = () => {} } = {}) {
    Object.assign(this, { socket, name, onEvent, onPresence, onJoined, onRefused });
    this.lastSeq = null;
    this.presence = new Presence();
    const mine = (payload) => payload && payload.room === this.name;
    for (const type of EVENT_TYPES) socket.on(type, (event) => this.deliver(event));
    socket.on("events.bulk", (bulk) => mine(bulk) && bulk.events.forEach((event) => this.deliver(event)));
    socket.on("presence.state", (state) => mine(state) && (this.presence.reset(state.members), this.onPresence(this.presence)));
    socket.on("presence.diff", (diff) => mine(diff) && (this.presence.apply(diff), this.onPresence(this.presence)));
    socket.on("connect", () => this.join());
    if (socket.connected) this.join();
  }

  join() {
    if (this.closed) return;
    const payload = { room: this.name };
    if (this.lastSeq !== null) payload.after_seq = this.lastSeq;
    this.socket.emit("join", payload, (ack) => {
      if (!ack || !ack.ok) return this.onRefused(ack ? ack.error : "no answer");
      this.presence.reset(ack.presence);
      this.onPresence(this.presence);
      const first = this.lastSeq === null;
      if (ack.seq !== null && ack.seq !== undefined) this.lastSeq = Math.max(this.lastSeq ?? 0, ack.seq);
      // Unreachable now: the next re-join loads again. Anything else is a bug and stays loud.
      Promise.resolve(this.onJoined(ack, first)).catch((err) => { if (err.status !== 0) throw err; });
    });
  }

  close() {
    this.closed = true;
    this.socket.emit("leave", { room: this.name });
  }

  deliver(event) {
    if (this.closed || !event || typeof event.seq !== "number") return;
    if (this.lastSeq !== null && event.seq <= this.lastSeq) return; // seen already (replay or second room)
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
