"""This process's connections to ``/realtime``: who each one is, its rooms, its typing deadlines.

Socket.IO rooms are per process; this registry is what the process knows about its own
sockets. Presence (what every process sees) lives in Redis, in ``presence.py``.
"""
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime

LOCK = threading.RLock()
CONNECTIONS = {}  # sid -> Connection
_identity = {"pid": None, "id": None}


@dataclass
class Connection:
    sid: str
    user: dict  # {"id", "name", "is_admin"}
    token_id: int
    expires_at: datetime | None = None  # the token's: the socket is closed then (upkeep)
    rooms: dict = field(default_factory=dict)  # room -> project key (None for batch rooms)
    typing: dict = field(default_factory=dict)  # room -> time.time() when typing lapses
    access_changes: int = 0  # bumped whenever this connection loses a room


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


def snapshot():
    """A list of this process's connections, safe to iterate while others change."""
    with LOCK:
        return list(CONNECTIONS.values())


def count():
    """How many sockets this process holds (for the open-connections gauge)."""
    return len(CONNECTIONS)
