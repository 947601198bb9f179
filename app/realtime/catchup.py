"""Catch-up on join: replay from the events table, then live, with no gap and no duplicate.

A joining connection enters the Socket.IO room at once, but behind a gate: live events
for that room are held for it while the missed ones are read and sent. Then the gate
sends what it held, skipping what the replay already covered, and stays as a watermark
for a while, because an event committed before the read may still be on its way live.
"""
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import select

from ..events.service import serialize_event
from ..extensions import db
from ..models import Event, Project
from .broadcast import bulk_messages, rooms_for
from .rooms import RoomError

PAGE = 1000


class CatchUpError(Exception):
    """Too many missed events to replay."""


@dataclass
class Pass:
    held: list = field(default_factory=list)  # live (event, data) held during the replay; None once live
    watermark: int = 0
    live_since: float = 0.0


class Gate:
    """Per room, the connections still catching up (or just caught up)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rooms = {}  # room -> {sid: Pass}

    def open(self, room, sid):
        with self.lock:
            self.rooms.setdefault(room, {})[sid] = Pass()

    def close(self, room, sid):
        with self.lock:
            passes = self.rooms.get(room, {})
            passes.pop(sid, None)
            if not passes:
                self.rooms.pop(room, None)

    def filter(self, room, event, data):
        """For a live emit to ``room``: ``(skip, extra)``, the sids not to send it to as
        is, and ``(sid, event, data)`` to send instead (a bulk trimmed to what is new)."""
        seqs = seqs_of(event, data)
        if seqs is None:
            return [], []
        skip, extra = [], []
        with self.lock:
            for sid, gate_pass in self.rooms.get(room, {}).items():
                if gate_pass.held is not None:
                    gate_pass.held.append((event, data))
                    skip.append(sid)
                elif min(seqs) <= gate_pass.watermark:
                    skip.append(sid)
                    trimmed = trim(event, data, gate_pass.watermark)
                    if trimmed:
                        extra.append((sid, *trimmed))
        return skip, extra

    def go_live(self, room, sid, watermark, send):
        """Send what was held beyond ``watermark``; from now on only skip what it covers."""
        with self.lock:
            gate_pass = self.rooms.get(room, {}).get(sid)
            if gate_pass is None or gate_pass.held is None:
                return
            for event, data in gate_pass.held:
                trimmed = trim(event, data, watermark)
                if trimmed:
                    send(sid, *trimmed)
            gate_pass.held, gate_pass.watermark, gate_pass.live_since = None, watermark, time.monotonic()

    def prune(self, seconds):
        """Forget the watermarks of connections live for longer than ``seconds``."""
        cutoff = time.monotonic() - seconds
        with self.lock:
            for room in list(self.rooms):
                passes = self.rooms[room]
                for sid in [s for s, p in passes.items() if p.held is None and p.live_since < cutoff]:
                    del passes[sid]
                if not passes:
                    del self.rooms[room]


def seqs_of(event, data):
    if event == "events.bulk":
        return [e["seq"] for e in data["events"]]
    if isinstance(data, dict) and "seq" in data and "project" in data:
        return [data["seq"]]
    return None


def trim(event, data, watermark):
    """``(event, data)`` with only what lies beyond ``watermark``, or None if nothing does."""
    if event != "events.bulk":
        return (event, data) if data["seq"] > watermark else None
    fresh = [e for e in data["events"] if e["seq"] > watermark]
    if not fresh:
        return None
    return event, data if len(fresh) == len(data["events"]) else {"room": data["room"], "events": fresh}


def replay(room, project_id, project_key, after_seq, limit, send):
    """Send the room's events after ``after_seq`` with ``send(event, data)``; return the
    latest seq, which everything later arrives live after."""
    db.session.rollback()  # a fresh snapshot: one that predates the join could miss events
    latest = db.session.scalar(select(Project.last_event_seq).where(Project.id == project_id))
    if latest is None:
        raise RoomError("not found or not allowed")  # deleted meanwhile
    if after_seq is None or after_seq >= latest:
        return latest
    if latest - after_seq > limit:
        raise CatchUpError(f"{latest - after_seq} missed events, more than {limit}: reload, then join without after_seq")
    cursor = after_seq
    while cursor < latest:
        rows = db.session.scalars(select(Event).where(Event.project_id == project_id, Event.seq > cursor,
                                                      Event.seq <= latest).order_by(Event.seq).limit(PAGE)).all()
        if not rows:
            break
        cursor = rows[-1].seq
        events = [serialize_event(row, project_key) for row in rows]
        for event, data in bulk_messages(room, [e for e in events if room in rooms_for(e)]):
            send(event, data)
    return latest
