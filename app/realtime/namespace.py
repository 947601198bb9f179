"""The ``/realtime`` Socket.IO namespace: connecting, rooms, catch-up, presence.

Every client event is answered with an acknowledgement ``{"ok": true, ...}`` or
``{"ok": false, "error"}``; a refused request changes nothing. ``join``, ``leave`` and
``presence.update`` are rate-limited, replays are budgeted and connections per user
capped (``quotas.py``); every join first re-checks the socket's token and user against
the database (``revalidate.py``).
"""
import json
import logging
import time

from flask import current_app, request
from flask_socketio import ConnectionRefusedError as ConnectRefused
from flask_socketio import join_room, leave_room

from .. import fastjson
from ..auth.tokens import resolve_token
from ..extensions import db, socketio
from . import connections, presence, quotas
from .broadcast import NAMESPACE
from .catchup import CatchUpError, replay
from .connections import Connection, Joined, server_id
from .revalidate import session_user
from .rooms import RoomError, check_access, parse

log = logging.getLogger(__name__)
STATUSES = ("viewing", "editing", "typing")


def fail(error):
    return {"ok": False, "error": error}


def _payload(data, *fields):
    """Check a client payload: a small JSON object with only the given fields."""
    if not isinstance(data, dict):
        raise ValueError("the payload must be an object")
    if len(json.dumps(data)) > current_app.config["REALTIME_MAX_PAYLOAD"]:
        raise ValueError("the payload is too large")
    unknown = set(data) - set(fields)
    if unknown:
        raise ValueError(f"unknown field {sorted(unknown)[0]}")
    return data


def _manager():
    return socketio.server.manager


def _live_connection():
    """This socket's connection. Each event runs in a green thread of its own, so one the
    client sent just before its connection dropped can run after the disconnect was
    handled (bench/reliability.py saw joins fail with an AttributeError): it is refused."""
    connection = connections.get(request.sid)
    if connection is None:
        raise ValueError("the connection is closing")
    return connection


def on_connect(auth=None):
    token = resolve_token(auth.get("token") if isinstance(auth, dict) else None)
    if token is None:
        return False  # refused
    user = {"id": token.user.id, "name": token.user.name, "is_admin": token.user.is_admin}
    if not quotas.admit(user["id"], request.sid):
        cap = current_app.config["REALTIME_MAX_CONNECTIONS_PER_USER"]
        raise ConnectRefused(f"too many connections: at most {cap} open per user (REALTIME_MAX_CONNECTIONS_PER_USER)")
    connections.add(Connection(sid=request.sid, user=user, token_id=token.id, token_hash=token.token_hash,
                               app=current_app._get_current_object()))
    join_room(f"user:{user['id']}")
    if user["is_admin"]:
        join_room("admins")
    return True


def on_disconnect(reason=None):
    connection = connections.pop(request.sid)
    if connection is None:
        return
    with connections.LOCK:  # emptied, so that a join still under way sees it lost its room
        rooms = list(connection.rooms)
        connection.rooms.clear()
    _manager().gate.forget(request.sid)
    _manager().outbox.forget(request.sid)
    for room in rooms:
        _leave_presence(connection, room)
    quotas.release(connection.user["id"], request.sid)


def on_join(data=None):
    try:
        connection = _live_connection()
        data = _payload(data, "room", "after_seq")
        room, after_seq = data.get("room"), data.get("after_seq")
        if after_seq is not None and (type(after_seq) is not int or after_seq < 0):
            raise ValueError("after_seq must be a whole number, 0 or more")
        parse(room)
        quotas.spend_request(connection)
    except (ValueError, RoomError, quotas.Refused) as error:
        return fail(str(error))
    with connection.lock:
        return _join(connection, room, after_seq)


def _join(connection, room, after_seq):
    sid = connection.sid
    if room in connection.rooms:
        return fail("already in that room")
    if len(connection.rooms) >= current_app.config["REALTIME_MAX_ROOMS"]:
        return fail("too many rooms on this connection")
    user = session_user(connection)
    if user is None:
        return fail("session ended")
    changes = connection.access_changes
    try:
        _kind, project = check_access(room, user)
    except RoomError as error:
        return fail(str(error))
    project_key = project.key if project else None
    others = connection.rooms_of(project_key) if project else {}
    # From here on, live events of the project wait for this socket until its replay is done.
    cursors = _manager().gate.open(sid, project_key, others) if project else {}
    joined = Joined(project_key)
    join_room(room)
    with connections.LOCK:
        connection.rooms[room] = joined
    sent = {"seq": 0}

    def send(event, payload):
        if room not in connection.rooms:
            raise RoomError("not found or not allowed")  # access was lost meanwhile
        quotas.spend_replay(connection, len(fastjson.dumps(payload).encode()))
        _manager().send_local(sid, event, payload)
        sent["seq"] = payload["events"][-1]["seq"] if event == "events.bulk" else payload["seq"]

    latest = None
    try:
        if connection.access_changes != changes:  # access may have gone while we checked it
            db.session.rollback()
            check_access(room, user)
        if project is not None:
            brought = {r: (j.since, max(j.since, cursors[r])) for r, j in others.items()}
            latest = replay(room, project.id, project_key, after_seq, brought,
                            current_app.config["REALTIME_MAX_REPLAY"], send)
    except (RoomError, CatchUpError, quotas.Refused) as error:
        _abandon(connection, room, project_key, sent["seq"])
        if isinstance(error, quotas.Refused) and after_seq is not None:
            upto = max(after_seq, sent["seq"])
            return fail(f"{error}; the events up to seq {upto} were sent: join again with after_seq {upto} then")
        return fail(str(error))
    if project is not None:
        joined.since = latest if after_seq is None else after_seq
        _manager().gate.release(sid, project_key, latest, set(connection.rooms_of(project_key)), _manager().send_local)
    presence.add(room, sid, connection.user, server_id(), project_key)
    if room not in connection.rooms:  # access was lost meanwhile: take back what we just added
        _leave_presence(connection, room)
        return fail("not found or not allowed")
    members = presence.members(room)
    _manager().send_local(sid, "presence.state", {"room": room, "members": members})
    return {"ok": True, "presence": members, "seq": latest}


def on_leave(data=None):
    try:
        connection = _live_connection()
        room = _payload(data, "room").get("room")
        if room not in connection.rooms:
            raise ValueError("not in that room")
        quotas.spend_request(connection)
    except (ValueError, quotas.Refused) as error:
        return fail(str(error))
    with connection.lock:
        if room not in connection.rooms:
            return fail("not in that room")
        _drop(connection, room)
    return {"ok": True}


def on_presence_update(data=None):
    try:
        connection = _live_connection()
        data = _payload(data, "room", "state")
        room, state = data.get("room"), data.get("state")
        if room not in connection.rooms:
            raise ValueError("not in that room")
        if not isinstance(state, dict) or state.get("status") not in STATUSES or set(state) - {"status", "issue_id"}:
            raise ValueError("state must be {status: viewing|editing|typing, issue_id?}")
        if "issue_id" in state and not (type(state["issue_id"]) is int and state["issue_id"] > 0):
            raise ValueError("issue_id must be a positive integer")
        quotas.spend_request(connection)
    except (ValueError, quotas.Refused) as error:
        return fail(str(error))
    if state["status"] == "typing":
        connection.typing[room] = (time.time() + current_app.config["REALTIME_TYPING_SECONDS"], state)
    else:
        connection.typing.pop(room, None)
    change_state(connection, room, state)
    return {"ok": True}


def change_state(connection, room, state):
    presence.set_state(room, connection.sid, connection.user["id"], state)


def on_unknown(event, *args):
    return fail(f"unknown event {event!r}")


def on_error(_error):
    """A handler failed: log it; a failed connect is refused, any other event gets an error ack."""
    log.exception("realtime handler failed")
    db.session.rollback()
    return False if request.event["message"] == "connect" else fail("internal error")


def register(app):
    """Register the namespace's handlers (serving processes also run ``upkeep.start_upkeep``)."""
    handlers = {"connect": on_connect, "disconnect": on_disconnect, "join": on_join, "leave": on_leave,
                "presence.update": on_presence_update, "*": on_unknown}
    for name, handler in handlers.items():
        socketio.on_event(name, handler, namespace=NAMESPACE)
    socketio.on_error(NAMESPACE)(on_error)


def _drop(connection, room):
    leave_room(room)
    _manager().outbox.left(connection.sid, room)
    with connections.LOCK:
        connection.rooms.pop(room, None)
        connection.typing.pop(room, None)
    _leave_presence(connection, room)


def _abandon(connection, room, project_key, upto):
    """Undo a join that failed: out of the room, and the project's held live events that
    the socket's other rooms want sent after what the replay sent (``upto``)."""
    _drop(connection, room)
    if project_key is not None:
        _manager().gate.release(connection.sid, project_key, upto, set(connection.rooms_of(project_key)),
                                _manager().send_local)


def _leave_presence(connection, room):
    presence.remove(room, connection.sid, connection.user["id"], server_id())


def drop_rooms(sid, room):
    """For the manager: take a socket out of ``room`` and, for a project, its issues' rooms.

    Returns the rooms it was in (the caller takes it out of the Socket.IO rooms).
    """
    connection = connections.get(sid)
    if connection is None:
        return []
    project_key = room.split(":", 1)[1] if room.startswith("project:") else None
    with connections.LOCK:
        connection.access_changes += 1
        lost = [r for r, joined in connection.rooms.items()
                if r == room or (project_key and joined.project_key == project_key)]
        for lost_room in lost:
            del connection.rooms[lost_room]
            connection.typing.pop(lost_room, None)
    for lost_room in lost:
        _leave_presence(connection, lost_room)
    return lost


def sids_of_token(sids, token_id):
    """Those of ``sids`` opened with ``token_id`` (every one of them when it is None)."""
    found = [connections.get(sid) for sid in sids]
    return [c.sid for c in found if c is not None and (token_id is None or c.token_id == token_id)]
