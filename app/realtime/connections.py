"""This process's connections to ``/realtime``: who each one is, its rooms, its typing deadlines.

Socket.IO rooms are per process; this registry is what the process knows about its own
sockets. Presence (what every process sees) lives in Redis, in ``presence.py``.
"""
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field

LOCK = threading.RLock()
CONNECTIONS = {}  # sid -> Connection
_identity = {"pid": None, "id": None}


@dataclass(eq=False)
class Joined:
    """A connection's stay in a room (a new object each time it joins: the upkeep's
    re-validation takes a socket out only of the stay it checked, never of a newer one)."""

    project_key: str | None  # None for batch rooms
    since: int | None = None  # the socket has every event of the room after this seq (None: a batch room)


@dataclass(eq=False)
class Connection:
    sid: str
    user: dict  # {"id", "name", "is_admin"}
    token_id: int
    token_hash: str  # re-validated against the database (``revalidate.py``); a restore may renumber ids
    app: object = None  # the Flask app it connected to (a test process holds several, each its database)
    rooms: dict = field(default_factory=dict)  # room -> Joined
    typing: dict = field(default_factory=dict)  # room -> (time.time() when typing lapses, state)
    access_changes: int = 0  # bumped whenever this connection loses a room
    ending: bool = False  # told session.ended; its disconnect is on its way
    # One join or leave at a time: a join's replay counts on what the socket's other rooms
    # have brought, so they must not change under it (python-socketio runs each event of a
    # socket in a task of its own).
    lock: threading.Lock = field(default_factory=threading.Lock)

    def rooms_of(self, project_key):
        """``{room: Joined}`` of this connection's rooms of one project."""
        with LOCK:
            return {room: joined for room, joined in self.rooms.items() if joined.project_key == project_key}


def server_id():
    """This process's name in Redis (new after a fork, so forked workers never share one)."""
    if _identity["pid"] != os.getpid():
        _identity.update(pid=os.getpid(), id=f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    return _identity["id"]


def add(connection):
    with LOCK:
        CONNECTIONS[connection.sid] = connection


def get(sid):
    return CONNECTIONS.get(sid)


def pop(sid):
    with LOCK:
        return CONNECTIONS.pop(sid, None)


def snapshot(app=None):
    """A list of this process's connections (to ``app``, if given), safe to iterate while
    others change."""
    with LOCK:
        return [c for c in CONNECTIONS.values() if app is None or c.app is app]


def count():
    """How many sockets this process holds (for the open-connections gauge)."""
    return len(CONNECTIONS)
