"""Per-socket outboxes: what waits for a socket leaves as one frame, and a socket that
falls too far behind is told ``events.gap`` instead of being buried.

python-socketio hands each message to the socket's Engine.IO queue, whose writer sends a
WebSocket frame per message. In a busy room that is a frame per event per socket: the
process spends itself on frames, a slow client's queue grows without bound, and the pings
queued behind it arrive too late (the client closes for silence). So the manager offers
events here instead. A socket whose Engine.IO queue is empty (its writer has taken all)
and has had no frame of events for a ``TICK`` gets them at once, as before: a lone event
under its own type, no added latency. Any other socket has them appended to its outbox as
runs (room, events); a flusher task sends each run as one frame (``events.bulk`` when it
holds several) once the tick is over and the socket's queue has drained, so a busy room
costs a frame per socket per tick, not per event, and the Engine.IO queue, pings
included, stays short. A tick sends at most ``BULK_SIZE`` events to
a socket: a ping never waits behind more than that.

More than ``REALTIME_MAX_BACKLOG`` events waiting in one room: they are dropped and
the socket gets ``events.gap {room, after_seq}``; its events of that room are dropped
until it leaves the room (the client re-joins with ``after_seq`` and the catch-up sends
the rest from the events table). The socket's other rooms of the project do not claim
to have brought the dropped events (their ``Joined.since`` moves past them), so that
re-join's replay sends them.
"""
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import socketio

from . import connections
from .broadcast import BULK_SIZE, NAMESPACE, bulk_messages, rooms_for

log = logging.getLogger(__name__)
LOOK = 0.01  # seconds between two looks at the sockets with something waiting
TICK = 0.05  # at most one frame of events per socket per tick: a busy room's events share frames


@dataclass
class Pending:
    """What waits for one socket."""

    runs: list = field(default_factory=list)  # [room, events] in order; [room, None, after_seq] is a gap
    counts: Counter = field(default_factory=Counter)  # room -> live events waiting
    gapped: dict = field(default_factory=dict)  # room -> after_seq told, until the socket leaves the room


class Outbox:
    """The outboxes of one process's sockets. ``lock`` is the gate's: deliveries, catch-ups
    and flushes of a socket never interleave."""

    def __init__(self, manager, max_backlog, lock):
        self.manager, self.max_backlog, self.lock = manager, max_backlog, lock
        self.pending = {}  # sid -> Pending
        self.last_frame = {}  # sid -> monotonic time of its last frame of events
        self.flushing = False

    def offer(self, sids, runs):
        """Send ``runs`` (``(room, events)``, in seq order) to each of ``sids``: now if its
        queue is empty and nothing waits for it, else after what waits."""
        if not runs:
            return
        with self.lock:
            now, started = [], time.monotonic()
            for sid in sids:
                pending = self.pending.get(sid)
                if pending is None and self._ready(sid, started):
                    now.append(sid)
                    self.last_frame[sid] = started
                    continue
                pending = pending or self.pending.setdefault(sid, Pending())
                for room, events in runs:
                    self._append(sid, pending, room, events)
            if now:
                for room, events in runs:
                    for name, data in bulk_messages(room, events):
                        self._emit(name, data, now)
            if len(now) < len(sids):
                self._start_flusher()

    def flush_now(self, sid):
        """Send what waits for ``sid`` now, whatever its queue holds (before a catch-up or
        a notice, which must come after it)."""
        with self.lock:
            pending = self.pending.get(sid)
            if pending is not None and pending.runs:
                self._send([sid], pending)

    def left(self, sid, room):
        """``sid`` left ``room``: its next join there starts afresh."""
        with self.lock:
            pending = self.pending.get(sid)
            if pending is None or pending.gapped.pop(room, None) is None:
                return
            pending.runs = [run for run in pending.runs if not (run[0] == room and run[1] is None)]
            if not pending.runs and not pending.gapped:
                del self.pending[sid]

    def forget(self, sid):
        with self.lock:
            self.pending.pop(sid, None)
            self.last_frame.pop(sid, None)

    def behind(self):
        """How many events wait in outboxes (for the metrics and the tests)."""
        with self.lock:
            return sum(sum(p.counts.values()) for p in self.pending.values())

    def _append(self, sid, pending, room, events):
        if room in pending.gapped:
            return self._dropped(sid, room, events)
        last = pending.runs[-1] if pending.runs else None
        if last is not None and last[0] == room and last[1] is not None:
            last[1].extend(events)
        else:
            pending.runs.append([room, list(events)])
        pending.counts[room] += len(events)
        if pending.counts[room] > self.max_backlog:
            self._gap(sid, pending, room)

    def _gap(self, sid, pending, room):
        dropped = [event for run in pending.runs if run[0] == room and run[1] for event in run[1]]
        pending.runs = [run for run in pending.runs if run[0] != room]
        after_seq = dropped[0]["seq"] - 1
        pending.runs.append([room, None, after_seq])
        pending.gapped[room] = after_seq
        pending.counts.pop(room, None)
        self._dropped(sid, room, dropped)

    def _dropped(self, sid, room, events):
        """The socket's other rooms have not brought it these events after all."""
        connection = connections.get(sid)
        if connection is None:
            return
        for event in events:
            for other in rooms_for(event):
                joined = connection.rooms.get(other) if other != room else None
                if joined is not None and joined.since is not None and joined.since < event["seq"]:
                    joined.since = event["seq"]

    def _start_flusher(self):
        if not self.flushing:
            self.flushing = True
            self.manager.server.start_background_task(self._flush_loop)

    def _flush_loop(self):
        while True:
            self.manager.server.sleep(LOOK)
            try:
                if not self._flush_due():
                    return
            except Exception:  # noqa: BLE001 -- the loop must outlive one socket's trouble
                log.exception("flushing the outboxes failed")

    def _flush_due(self):
        """Send a frame to each socket whose tick is over; False when nothing waits."""
        with self.lock:
            waiting = [sid for sid, pending in self.pending.items() if pending.runs]
            if not waiting:
                self.flushing = False
                return False
            groups, started = defaultdict(list), time.monotonic()  # the same runs: the same frames
            for sid in waiting:
                if self._ready(sid, started):
                    groups[_fingerprint(self.pending[sid].runs)].append(sid)
                    self.last_frame[sid] = started
            for sids in groups.values():
                sids = [sid for sid in sids if sid in self.pending]  # (a send may close a socket)
                if sids:
                    self._send(sids, self.pending[sids[0]], BULK_SIZE)
            return True

    def _send(self, sids, pending, limit=None):
        """Send the first ``limit`` events (all: None) of ``pending``'s runs, the same for
        every one of ``sids``, a frame per run (a gap is a frame of its own); take them off."""
        whole, part, budget = 0, 0, limit  # runs sent whole, events sent of the next one
        for room, events, *gap in pending.runs:
            if budget == 0:
                break
            if events is None:
                self._emit("events.gap", {"room": room, "after_seq": gap[0]}, sids)
                whole += 1
                continue
            chunk = events if budget is None else events[:budget]
            if len(chunk) == 1:
                self._emit(chunk[0]["type"], chunk[0], sids)
            else:
                self._emit("events.bulk", {"room": room, "events": chunk}, sids)
            if budget is not None:
                budget -= len(chunk)
            if len(chunk) < len(events):
                part = len(chunk)
                break
            whole += 1
        for sid in sids:
            self._take(sid, whole, part)

    def _take(self, sid, whole, part):
        pending = self.pending.get(sid)
        if pending is None:  # closed meanwhile
            return
        for room, events, *_gap in pending.runs[:whole]:
            if events is not None:
                pending.counts[room] -= len(events)
        del pending.runs[:whole]
        if part:
            run = pending.runs[0]
            pending.counts[run[0]] -= part
            run[1] = run[1][part:]
        if not pending.runs and not pending.gapped:
            del self.pending[sid]

    def _ready(self, sid, now):
        """Whether ``sid`` may have a frame of events now: its last is a tick old and its
        Engine.IO writer has taken everything queued for it."""
        return now - self.last_frame.get(sid, 0.0) >= TICK and self._drained(sid)

    def _drained(self, sid):
        eio_sid = self.manager.eio_sid_from_sid(sid, NAMESPACE)
        socket = self.manager.server.eio.sockets.get(eio_sid) if eio_sid else None
        return socket is None or socket.queue.qsize() == 0

    def _emit(self, name, data, sids):
        socketio.Manager.emit(self.manager, name, data, NAMESPACE, room=sids)


def _fingerprint(runs):
    return tuple((run[0], run[2]) if run[1] is None else (run[0], tuple(e["seq"] for e in run[1])) for run in runs)
