"""Presence kept in Redis, so every server process sees the same members.

- ``beacon:presence:{room}``: hash, connection id -> JSON ``{"user_id", "name", "state", "server", "at"}``
- ``beacon:sockets:{user_id}``: hash, connection id -> ``{"server", "token_id"}`` (every socket of a user)
- ``beacon:server:{server_id}``: a lease each server process renews; when it lapses (the
  process died) the survivors remove that process's connections, whenever it died.

A member is one user however many tabs: ``{"user_id", "name", "connections", "state"}``.
"""
import json
import time

from flask import current_app
from sqlalchemy import select

ROOM_KEY = "beacon:presence:{room}"
ROOMS_KEY = "beacon:presence:rooms"
SOCKETS_KEY = "beacon:sockets:{user_id}"
SERVER_KEY = "beacon:server:{server_id}"


def redis():
    from ..worker import get_redis

    return get_redis(current_app)


def room_entries(room):
    """The connection entries of a room: ``{connection_id: entry}``."""
    raw = redis().hgetall(ROOM_KEY.format(room=room))
    return {sid.decode(): json.loads(value) for sid, value in raw.items()}


def members(room, entries=None):
    """The room's members, one per user, in order of user id."""
    by_user = {}
    for entry in (room_entries(room) if entries is None else entries).values():
        member = by_user.setdefault(entry["user_id"], {"user_id": entry["user_id"], "name": entry["name"],
                                                      "connections": 0, "state": entry["state"], "_at": 0})
        member["connections"] += 1
        if entry["at"] >= member["_at"]:  # the most recent state of any tab wins
            member["state"], member["_at"] = entry["state"], entry["at"]
    return [{k: v for k, v in m.items() if k != "_at"} for _, m in sorted(by_user.items())]


def member_of(room, user_id):
    return next((m for m in members(room) if m["user_id"] == user_id), None)


def add(room, sid, user, server_id, state=None):
    """Record a connection in a room; return the user's member entry."""
    entry = {"user_id": user["id"], "name": user["name"], "state": state or {"status": "viewing"},
             "server": server_id, "at": time.time()}
    pipe = redis().pipeline()
    pipe.hset(ROOM_KEY.format(room=room), sid, json.dumps(entry))
    pipe.sadd(ROOMS_KEY, room)
    pipe.execute()
    return member_of(room, user["id"])


def set_state(room, sid, state):
    raw = redis().hget(ROOM_KEY.format(room=room), sid)
    if raw is None:
        return None
    entry = json.loads(raw)
    entry.update(state=state, at=time.time())
    redis().hset(ROOM_KEY.format(room=room), sid, json.dumps(entry))
    return member_of(room, entry["user_id"])


def remove(room, sid):
    """Drop a connection from a room; return ``(user_id, member or None)``: None when it was the last tab."""
    key = ROOM_KEY.format(room=room)
    raw = redis().hget(key, sid)
    if raw is None:
        return None, None
    redis().hdel(key, sid)
    user_id = json.loads(raw)["user_id"]
    return user_id, member_of(room, user_id)


def register_socket(user_id, sid, server_id, token_id):
    redis().hset(SOCKETS_KEY.format(user_id=user_id), sid, json.dumps({"server": server_id, "token_id": token_id}))


def unregister_socket(user_id, sid):
    redis().hdel(SOCKETS_KEY.format(user_id=user_id), sid)


def sockets_of(user_id):
    raw = redis().hgetall(SOCKETS_KEY.format(user_id=user_id))
    return {sid.decode(): json.loads(value) for sid, value in raw.items()}


def sids_in_room(room, user_id):
    return [sid for sid, entry in room_entries(room).items() if entry["user_id"] == user_id]


def renew_lease(server_id, seconds):
    redis().set(SERVER_KEY.format(server_id=server_id), "1", px=int(seconds * 1000))


def dead_entries():
    """``[(room, sid, entry)]`` of connections whose server process no longer holds its lease."""
    found, alive = [], {}
    for room in (r.decode() for r in redis().smembers(ROOMS_KEY)):
        for sid, entry in room_entries(room).items():
            server = entry["server"]
            if server not in alive:
                alive[server] = bool(redis().exists(SERVER_KEY.format(server_id=server)))
            if not alive[server]:
                found.append((room, sid, entry))
    return found


def online_counts(project_ids):
    """Distinct users and connections present in the rooms of these projects."""
    from ..extensions import db
    from ..models import Project

    if not project_ids:
        return {"online_users": 0, "connections": 0}
    keys = db.session.scalars(select(Project.key).where(Project.id.in_(project_ids))).all()
    users, connections = set(), set()
    for key in keys:
        for sid, entry in room_entries(f"project:{key}").items():
            connections.add(sid)
            users.add(entry["user_id"])
    return {"online_users": len(users), "connections": len(connections)}
