"""Catch-up on join: replay from the events table, then live, with no gap and no duplicate.

A socket gets each event of a project once, however many of the project's rooms it is in
(``manager.py``). So a join's replay is worked out for the socket, not for the room: it
sends the events of the joined room after ``after_seq`` that none of the socket's other
rooms of the project has brought it, and, merged in seq order, those of its other rooms
that are still on their way live. Meanwhile the socket's gate holds every live event of
the project for it; then the gate sends what it held beyond the replay and stays, for a
while, as a watermark, because an event committed before the replay's read may still
be on its way live.

Which events the other rooms have brought: ``Gate.cursors`` keeps, per room, the seq of
the last event this process delivered to it. A room the socket stays in since seq S (its
``Joined.since``) has brought it the events after S up to that cursor: the live stream of
a project arrives in seq order, and the cursor is read under the same lock as the gate
opens, so every later event is held.
"""
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import select

from ..events.service import serialize_event
from ..extensions import db
from ..models import Event, Project
from .broadcast import messages, rooms_for
from .rooms import RoomError

PAGE = 1000


class CatchUpError(Exception):
    """Too many missed events to replay."""


@dataclass
class Track:
    """One socket's catch-up in one project."""

    held: list | None = field(default_factory=list)  # (event, rooms) held during the replay; None once live
    watermark: int = 0  # the replay covered the events up to here: later live copies are skipped
    live_since: float = 0.0


class Gate:
    """Per socket and project, the catch-ups under way (or just done), and per room the
    last event delivered to it. ``lock`` also orders the manager's live sends."""

    def __init__(self):
        self.lock = threading.RLock()
        self.tracks = {}  # sid -> {project key: Track}
        self.cursors = {}  # room -> seq of the last event this process delivered to it

    def open(self, sid, project_key, rooms):
        """Hold the project's live events for ``sid`` from now on; return ``{room: seq}``,
        the last event delivered to each of ``rooms`` so far (0: none)."""
        with self.lock:
            self.tracks.setdefault(sid, {})[project_key] = Track()
            return {room: self.cursors.get(room, 0) for room in rooms}

    def track(self, sid, project_key):
        return self.tracks.get(sid, {}).get(project_key)

    def release(self, sid, project_key, upto, view, send):
        """End a catch-up: send ``sid`` what was held for the rooms ``view`` after seq
        ``upto`` (what the replay covered); from then on skip only live copies up to it."""
        with self.lock:
            track = self.track(sid, project_key)
            if track is None or track.held is None:
                return
            for name, data in messages([held for held in track.held if held[0]["seq"] > upto], view, project_key):
                send(sid, name, data)
            track.held, track.watermark, track.live_since = None, upto, time.monotonic()

    def pick(self, track, targets, view):
        """For a live message to a socket with a ``track``: what it gets now (the rest is held)."""
        wanted = [(event, rooms) for event, rooms in targets if any(room in view for room in rooms)]
        if track.held is not None:
            track.held.extend(wanted)
            return []
        return [(event, rooms) for event, rooms in wanted if event["seq"] > track.watermark]

    def delivered(self, targets, rooms_here):
        """Move the cursors of ``rooms_here`` past a live message's events."""
        for event, rooms in targets:
            for room in rooms:
                if room in rooms_here:
                    self.cursors[room] = event["seq"]

    def forget(self, sid):
        with self.lock:
            self.tracks.pop(sid, None)

    def prune(self, seconds, rooms_here):
        """Forget the watermarks of catch-ups over for longer than ``seconds``, and the
        cursors of rooms with no socket here any more."""
        cutoff = time.monotonic() - seconds
        with self.lock:
            for sid in list(self.tracks):
                projects = self.tracks[sid]
                for key in [k for k, t in projects.items() if t.held is None and t.live_since < cutoff]:
                    del projects[key]
                if not projects:
                    del self.tracks[sid]
            for room in [room for room in self.cursors if room not in rooms_here]:
                del self.cursors[room]


def wanted(seq, rooms, room, start, others):
    """Whether a join's replay of ``room`` sends this event to the socket.

    ``start``: the seq the join asked events after; ``others``: ``{room: (since, upto)}``
    of the socket's other rooms of the project, each having brought the events after
    ``since`` up to ``upto``.
    """
    through = [others[r] for r in rooms if r in others]
    if any(since < seq <= upto for since, upto in through):
        return False  # another room brought it already
    if any(seq > upto for _since, upto in through):
        return True  # on its way live to another room: sent now, in order; the gate drops the live copy
    return room in rooms and seq > start


def replay(room, project_id, project_key, after_seq, others, limit, send):
    """Send the socket its missed events (see ``wanted``) with ``send(event, data)``;
    return the latest seq, which everything later arrives live after."""
    db.session.rollback()  # a fresh snapshot: one that predates the join could miss events
    latest = db.session.scalar(select(Project.last_event_seq).where(Project.id == project_id))
    if latest is None:
        raise RoomError("not found or not allowed")  # deleted meanwhile
    start = latest if after_seq is None else after_seq
    if latest - start > limit:
        raise CatchUpError(f"{latest - start} missed events, more than {limit}: reload, then join without after_seq")
    cursor = min([start] + [upto for _since, upto in others.values()])
    view = {room, *others}
    while cursor < latest:
        rows = db.session.scalars(select(Event).where(Event.project_id == project_id, Event.seq > cursor,
                                                      Event.seq <= latest).order_by(Event.seq).limit(PAGE)).all()
        if not rows:
            break
        cursor = rows[-1].seq
        targets = [(event, rooms_for(event)) for event in (serialize_event(row, project_key) for row in rows)]
        chosen = [(event, rooms) for event, rooms in targets if wanted(event["seq"], rooms, room, start, others)]
        for name, data in messages(chosen, view, project_key):
            send(name, data)
    return latest
