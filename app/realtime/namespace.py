"""The ``/realtime`` Socket.IO namespace: rooms, catch-up, presence.

Every handler answers with an acknowledgement ``{"ok": true, ...}`` or ``{"ok": false,
"error"}``. Connection state lives in this process (``LOCAL``); presence lives in Redis.
"""
import json
import logging
import os
import socket
import uuid

from flask import current_app, request
from flask_socketio import join_room, leave_room
from sqlalchemy import select

from ..auth.tokens import resolve_token
from ..extensions import db, socketio
from ..models import Event
from . import presence
from .broadcast import NAMESPACE, rooms_for
from .diffs import DiffBuffer
from .rooms import RoomError, check_access

log = logging.getLogger(__name__)
SERVER_ID = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
STATUSES = ("viewing", "editing", "typing")
LOCAL = {}  # sid -> {"user": {"id", "name", "is_admin"}, "token_id", "rooms": set()}
diffs = DiffBuffer()


def fail(error):
    return {"ok": False, "error": error}


def _payload(data, *fields):
    """Check a client payload: a small JSON object with the given fields."""
    if not isinstance(data, dict):
        raise ValueError("the payload must be an object")
    if len(json.dumps(data)) > current_app.config["REALTIME_MAX_PAYLOAD"]:
        raise ValueError("the payload is too large")
    unknown = set(data) - set(fields)
    if unknown:
        raise ValueError(f"unknown field {sorted(unknown)[0]}")
    return data


def on_connect(auth=None):
    token = resolve_token(auth.get("token") if isinstance(auth, dict) else None)
    if token is None:
        db.session.remove()
        return False  # refused
    user = {"id": token.user.id, "name": token.user.name, "is_admin": token.user.is_admin}
    LOCAL[request.sid] = {"user": user, "token_id": token.id, "rooms": set()}
    presence.register_socket(user["id"], request.sid, SERVER_ID, token.id)
    join_room(f"user:{user['id']}")
    if user["is_admin"]:
        join_room("admins")
    db.session.remove()
    return True


def on_disconnect(reason=None):
    connection = LOCAL.pop(request.sid, None)
    if connection is None:
        return
    for room in connection["rooms"]:
        _leave_presence(room, request.sid)
    presence.unregister_socket(connection["user"]["id"], request.sid)


def on_join(data=None):
    connection = LOCAL.get(request.sid)
    try:
        data = _payload(data, "room", "after_seq")
        room, after_seq = data.get("room"), data.get("after_seq")
        if after_seq is not None and (not isinstance(after_seq, int) or isinstance(after_seq, bool) or after_seq < 0):
            raise ValueError("after_seq must be a whole number")
        if room not in connection["rooms"] and len(connection["rooms"]) >= current_app.config["REALTIME_MAX_ROOMS"]:
            raise ValueError("too many rooms on this connection")
        from ..models import User

        kind, project = check_access(room, db.session.get(User, connection["user"]["id"]))
    except (ValueError, RoomError) as error:
        db.session.remove()
        return fail(str(error))
    join_room(room)
    connection["rooms"].add(room)
    latest = 0
    if project is not None:
        latest = project.last_event_seq
        if after_seq is not None:
            _replay(room, project, after_seq)
    db.session.remove()
    member = presence.add(room, request.sid, connection["user"], SERVER_ID)
    members = presence.members(room)
    socketio.emit("presence.state", {"room": room, "members": members}, to=request.sid, namespace=NAMESPACE)
    if member["connections"] == 1:
        diffs.add(room, "joins", member)
    return {"ok": True, "presence": members, "seq": latest}


def _replay(room, project, after_seq):
    """Send this connection the room's events after ``after_seq``, in order."""
    from ..events.service import serialize_event

    rows = db.session.scalars(select(Event).where(Event.project_id == project.id, Event.seq > after_seq)
                              .order_by(Event.seq)).all()
    for row in rows:
        event = serialize_event(row, project.key)
        if room in rooms_for(event):
            socketio.emit(event["type"], event, to=request.sid, namespace=NAMESPACE)


def on_leave(data=None):
    connection = LOCAL.get(request.sid)
    try:
        room = _payload(data, "room").get("room")
    except ValueError as error:
        return fail(str(error))
    if room not in connection["rooms"]:
        return fail("not in that room")
    leave_room(room)
    connection["rooms"].discard(room)
    _leave_presence(room, request.sid)
    return {"ok": True}


def _leave_presence(room, sid):
    user_id, remaining = presence.remove(room, sid)
    if user_id is None:
        return
    if remaining is None:
        diffs.add(room, "leaves", {"user_id": user_id, "name": LOCAL.get(sid, {}).get("user", {}).get("name")})
    else:
        diffs.add(room, "updates", remaining)


def on_presence_update(data=None):
    connection = LOCAL.get(request.sid)
    try:
        data = _payload(data, "room", "state")
        room, state = data.get("room"), data.get("state")
        if room not in connection["rooms"]:
            raise ValueError("not in that room")
        if not isinstance(state, dict) or state.get("status") not in STATUSES or set(state) - {"status", "issue_id"}:
            raise ValueError("state must be {status: viewing|editing|typing, issue_id?}")
        if "issue_id" in state and not (isinstance(state["issue_id"], int) and state["issue_id"] > 0):
            raise ValueError("issue_id must be a positive integer")
    except ValueError as error:
        return fail(str(error))
    member = presence.set_state(room, request.sid, state)
    if member is not None:
        diffs.add(room, "updates", member)
    return {"ok": True}


def on_unknown(event, *args):
    return fail(f"unknown event {event!r}")


def register(app):
    """Register the namespace's handlers (serving processes then call ``upkeep.start_upkeep``)."""
    handlers = {"connect": on_connect, "disconnect": on_disconnect, "join": on_join, "leave": on_leave,
                "presence.update": on_presence_update, "*": on_unknown}
    for name, handler in handlers.items():
        socketio.on_event(name, handler, namespace=NAMESPACE)
    socketio.on_error(NAMESPACE)(on_error)


def on_error(_error):
    """A handler failed: log it; a failed connect is refused, any other event gets an error ack."""
    log.exception("realtime handler failed")
    db.session.rollback()
    return False if request.event["message"] == "connect" else fail("internal error")
