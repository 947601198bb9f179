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
    """Remove every connection of ``user_id`` from ``room``, on every server process."""
    from . import presence

    for sid in presence.sids_in_room(room, user_id):
        _server_call("leave_room", sid, room, namespace=NAMESPACE)
        presence.remove(room, sid)
    emit("presence.diff", {"room": room, "joins": [], "leaves": [{"user_id": user_id}], "updates": []}, room)
    emit("access.lost", {"room": room}, f"user:{user_id}")


def token_revoked(token_id, user_id):
    """Close the sockets opened with this token, on every server process."""
    from . import presence

    for sid, socket_info in presence.sockets_of(user_id).items():
        if socket_info["token_id"] == token_id:
            _server_call("disconnect", sid, namespace=NAMESPACE)


def user_deactivated(user_id):
    """Close every socket of this user, on every server process."""
    from . import presence

    for sid in presence.sockets_of(user_id):
        _server_call("disconnect", sid, namespace=NAMESPACE)


def to_admins(name, payload):
    emit(name, payload, "admins")


def _server_call(method, *args, **kwargs):
    """Ask the Socket.IO server (through the message queue: whichever process holds the sid)."""
    try:
        getattr(socketio.server, method)(*args, **kwargs)
    except Exception:  # a dead message queue must not fail the committed change
        log.exception("%s for %s failed", method, args)
