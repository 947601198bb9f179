"""Send committed changes to the Socket.IO rooms that should see them.

Web processes and workers share this module: with a message queue configured, an emit
from any process reaches clients on every server process.
"""
import logging

from ..extensions import socketio

log = logging.getLogger(__name__)
NAMESPACE = "/realtime"


def rooms_for(event):
    """The rooms an event goes to: its project, and its issue if it has one."""
    rooms = [f"project:{event['project']}"]
    issue_id = event["data"].get("issue_id") or (event["data"].get("issue") or {}).get("id")
    if issue_id is not None:
        rooms.append(f"issue:{issue_id}")
    return rooms


def events(payloads):
    """Emit committed events, in seq order, each once to each of its rooms."""
    for event in payloads:
        for room in rooms_for(event):
            emit(event["type"], event, room)


def emit(name, payload, room):
    """Emit one message to a room of the ``/realtime`` namespace."""
    try:
        socketio.emit(name, payload, to=room, namespace=NAMESPACE)
    except Exception:  # a dead message queue must not fail the committed request
        log.exception("emit of %s to %s failed", name, room)


def access_lost(user_id, room):
    """Tell every server process that ``user_id`` may no longer read ``room``."""
    emit("access.lost", {"room": room}, f"user:{user_id}")


def token_revoked(token_id, user_id):
    """Tell every server process to close the sockets opened with this token."""
    emit("token.revoked", {"token_id": token_id}, f"user:{user_id}")
