"""Presence kept in Redis, so every server process sees the same members.

- ``beacon:presence:{room}:users``: set of the user ids present in a room;
- ``beacon:presence:{room}:user:{id}``: hash, connection id -> JSON ``{"user_id", "name", "state", "at"}``,
  one entry per connection (tab) of that user in that room;
- ``beacon:presence:project:{key}:rooms``: the rooms of a project that have had someone in them;
- ``beacon:server:{server_id}``: a lease each server process renews (``upkeep.py``);
  ``beacon:servers`` lists the processes and ``beacon:server:{server_id}:entries`` what each
  one put into presence, so the survivors can take out what a dead process left;
- ``beacon:connections:user:{id}``: set of a user's open connections on every process (for
  ``REALTIME_MAX_CONNECTIONS_PER_USER``), with ``beacon:server:{server_id}:connections``
  to sweep what a dead process left there too.

Every change records its presence diff (``diffs.py``) in the same transaction.

A member is one user however many tabs: ``{"user_id", "name", "connections", "state"}``,
its state the most recently set one of any of its tabs.
"""
import json
import time

from sqlalchemy import select

from ..extensions import db
from ..models import Project
from ..redis_client import get_redis, transact
from . import diffs

USERS_KEY = "beacon:presence:{room}:users"
USER_KEY = "beacon:presence:{room}:user:{user_id}"
PROJECT_ROOMS_KEY = "beacon:presence:project:{key}:rooms"
SERVERS_KEY = "beacon:servers"
LEASE_KEY = "beacon:server:{server_id}"
ENTRIES_KEY = "beacon:server:{server_id}:entries"
CONNECTIONS_KEY = "beacon:connections:user:{user_id}"
SERVER_CONNECTIONS_KEY = "beacon:server:{server_id}:connections"


def member_from(entries):
    """Fold a user's connection entries (``{sid: entry}``) into one member, or None."""
    if not entries:
        return None
    latest = max(entries.values(), key=lambda entry: entry["at"])
    return {"user_id": latest["user_id"], "name": latest["name"], "connections": len(entries),
            "state": latest["state"]}


def _decode(raw):
    return {sid.decode(): json.loads(value) for sid, value in raw.items()}


def _entry_id(room, sid, user_id):
    return json.dumps([room, sid, user_id])


def members(room):
    """The room's members, one per user, in order of user id."""
    user_ids = sorted(int(u) for u in get_redis().smembers(USERS_KEY.format(room=room)))
    pipe = get_redis().pipeline(transaction=False)
    for user_id in user_ids:
        pipe.hgetall(USER_KEY.format(room=room, user_id=user_id))
    found = (member_from(_decode(raw)) for raw in pipe.execute())
    return [member for member in found if member is not None]


def add(room, sid, user, server_id, project_key=None, state=None):
    """Record a connection in a room, and the join (or, for a further tab, the update) in
    the room's diff; return the user's member entry."""
    entry = {"user_id": user["id"], "name": user["name"], "state": state or {"status": "viewing"}, "at": time.time()}
    user_key = USER_KEY.format(room=room, user_id=user["id"])

    def plan(entries):
        kind = "updates" if entries else "joins"
        member = member_from({**entries, sid: entry})

        def write(pipe):
            pipe.hset(user_key, sid, json.dumps(entry))
            pipe.sadd(USERS_KEY.format(room=room), user["id"])
            pipe.sadd(ENTRIES_KEY.format(server_id=server_id), _entry_id(room, sid, user["id"]))
            if project_key:
                pipe.sadd(PROJECT_ROOMS_KEY.format(key=project_key), room)
            diffs.record(pipe, room, kind, member)
        return member, write

    return _update(user_key, plan)


def remove(room, sid, user_id, server_id):
    """Take a connection out of a room, and record the leave (or, while the user has other
    tabs there, the update) in the room's diff; return ``(left, remaining)`` members.

    ``left`` is None when the connection was not there (someone else took it out first);
    ``remaining`` is None when it was the user's last connection in the room.
    """
    user_key = USER_KEY.format(room=room, user_id=user_id)

    def plan(entries):
        if sid not in entries:
            return (None, None), None
        left = {**member_from({sid: entries[sid]}), "connections": 0}
        remaining = member_from({k: v for k, v in entries.items() if k != sid})

        def write(pipe):
            pipe.hdel(user_key, sid)
            if remaining is None:
                pipe.srem(USERS_KEY.format(room=room), user_id)
            pipe.srem(ENTRIES_KEY.format(server_id=server_id), _entry_id(room, sid, user_id))
            diffs.record(pipe, room, "leaves" if remaining is None else "updates", remaining or left)
        return (left, remaining), write

    return _update(user_key, plan)


def set_state(room, sid, user_id, state):
    """Change one connection's state, recording the update in the room's diff if the member
    changed; return ``(before, after)`` members, or ``(None, None)``."""
    user_key = USER_KEY.format(room=room, user_id=user_id)

    def plan(entries):
        if sid not in entries:
            return (None, None), None
        before = member_from(entries)
        entries[sid] = {**entries[sid], "state": state, "at": time.time()}
        after = member_from(entries)

        def write(pipe):
            pipe.hset(user_key, sid, json.dumps(entries[sid]))
            if after != before:
                diffs.record(pipe, room, "updates", after)
        return (before, after), write

    return _update(user_key, plan)


def _update(user_key, plan):
    """``plan(entries)`` gives ``(result, write)``: run ``write(pipe)`` as one transaction on
    one user's entries in one room, reading them again if another tab of that user changed
    them meanwhile; return ``result`` (nothing is written when ``write`` is None)."""
    return transact(get_redis(), user_key, lambda pipe: plan(_decode(pipe.hgetall(user_key))))


def open_connection(user_id, sid, server_id, cap=None):
    """Count one open connection of a user, across every process; past ``cap`` it is not
    counted and the answer is False."""
    key = CONNECTIONS_KEY.format(user_id=user_id)
    pipe = get_redis().pipeline()
    pipe.sadd(key, sid)
    pipe.scard(key)
    pipe.sadd(SERVER_CONNECTIONS_KEY.format(server_id=server_id), json.dumps([sid, user_id]))
    count = pipe.execute()[1]
    if cap is None or count <= cap:
        return True
    close_connection(user_id, sid, server_id)
    return False


def close_connection(user_id, sid, server_id):
    pipe = get_redis().pipeline()
    pipe.srem(CONNECTIONS_KEY.format(user_id=user_id), sid)
    pipe.srem(SERVER_CONNECTIONS_KEY.format(server_id=server_id), json.dumps([sid, user_id]))
    pipe.execute()


def connections_of(server_id):
    """``[(sid, user_id)]`` of the connections a process counted."""
    return [tuple(json.loads(raw)) for raw in get_redis().smembers(SERVER_CONNECTIONS_KEY.format(server_id=server_id))]


def renew_lease(server_id, seconds):
    """Hold this process's lease; return False if it had lapsed (the others may have swept us)."""
    pipe = get_redis().pipeline(transaction=False)
    pipe.set(LEASE_KEY.format(server_id=server_id), "1", px=int(seconds * 1000), get=True)
    pipe.sadd(SERVERS_KEY, server_id)
    held, _ = pipe.execute()
    return held is not None


def dead_servers(server_id):
    """The processes other than this one whose lease lapsed."""
    others = [s.decode() for s in get_redis().smembers(SERVERS_KEY) if s.decode() != server_id]
    pipe = get_redis().pipeline(transaction=False)
    for other in others:
        pipe.exists(LEASE_KEY.format(server_id=other))
    return [other for other, alive in zip(others, pipe.execute()) if not alive]


def entries_of(server_id):
    """``[(room, sid, user_id)]`` that a process put into presence."""
    return [tuple(json.loads(raw)) for raw in get_redis().smembers(ENTRIES_KEY.format(server_id=server_id))]


def forget_server(server_id):
    pipe = get_redis().pipeline()
    pipe.delete(ENTRIES_KEY.format(server_id=server_id))
    pipe.delete(SERVER_CONNECTIONS_KEY.format(server_id=server_id))
    pipe.srem(SERVERS_KEY, server_id)
    pipe.execute()


def online_counts(project_ids):
    """Distinct users and connections present in the rooms of these projects (ids)."""
    keys = db.session.scalars(select(Project.key).where(Project.id.in_(list(project_ids)))).all() if project_ids else []
    pipe = get_redis().pipeline(transaction=False)
    for key in keys:
        pipe.smembers(PROJECT_ROOMS_KEY.format(key=key))
    rooms = sorted({room.decode() for found in pipe.execute() for room in found})
    for room in rooms:
        pipe.smembers(USERS_KEY.format(room=room))
    user_keys = [USER_KEY.format(room=room, user_id=int(user_id))
                 for room, user_ids in zip(rooms, pipe.execute()) for user_id in user_ids]
    for user_key in user_keys:
        pipe.hkeys(user_key)
    users, connections = set(), set()
    for user_key, sids in zip(user_keys, pipe.execute()):
        if sids:
            users.add(user_key.rsplit(":", 1)[1])
            connections.update(sids)
    return {"online_users": len(users), "connections": len(connections)}
