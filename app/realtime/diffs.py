"""Presence diffs, coalesced in Redis: at most one ``presence.diff`` per room per 250 ms.

A presence change records its diff in the same Redis transaction as the change itself
(``record``, called by ``presence.py``), so the recorded diffs of a room are in the order
its changes happened, whichever process made them. Recorded apart, they were not: two
processes took a removed member's last two connections out at the same moment, the first
one saw "one connection left", was descheduled before recording it, and recorded it after
the second one's "left"; ``fold`` then read "left and came back", and the room never
heard that the member had gone (issue 15, about one run in two under load).

Every server process calls ``flush`` on its tick, and a short lock per room in Redis lets
only one of them send that room's diff in each window, however many processes there are.
"""
import json

from ..redis_client import get_redis

WINDOW_MS = 250
PENDING_KEY = "beacon:diff:{room}"
ROOMS_KEY = "beacon:diff:rooms"
LOCK_KEY = "beacon:diff:lock:{room}"


def record(pipe, room, kind, member):
    """Add to ``pipe`` (a transaction) that ``member`` joined, left or changed (``kind``:
    joins, leaves, updates)."""
    pipe.rpush(PENDING_KEY.format(room=room), json.dumps([kind, member]))
    pipe.sadd(ROOMS_KEY, room)


def fold(changes):
    """Fold a room's changes, oldest first, into ``{"joins", "leaves", "updates"}`` by user."""
    users = {}
    for kind, member in changes:
        previous = users.get(member["user_id"], (None, None))[0]
        if previous == "joins" and kind == "leaves":
            del users[member["user_id"]]  # came and went within one window: nothing to tell
            continue
        if previous == "joins" and kind == "updates":
            kind = "joins"  # still a join, with the newer state
        elif previous == "leaves" and kind in ("joins", "updates"):
            kind = "updates"  # left and came back: the others saw no change of membership
        users[member["user_id"]] = (kind, member)
    diff = {"joins": [], "leaves": [], "updates": []}
    for _user_id, (kind, member) in sorted(users.items()):
        diff[kind].append(member)
    return diff


def take(room):
    """Take a room's pending changes if no process sent its diff in this window; else None."""
    if not get_redis().set(LOCK_KEY.format(room=room), "1", nx=True, px=WINDOW_MS):
        return None
    pipe = get_redis().pipeline()
    pipe.lrange(PENDING_KEY.format(room=room), 0, -1)
    pipe.delete(PENDING_KEY.format(room=room))
    pipe.srem(ROOMS_KEY, room)
    raw = pipe.execute()[0]
    return fold([json.loads(item) for item in raw])


def flush(send):
    """Send each room's coalesced diff with ``send(room, diff)``."""
    for room in sorted(r.decode() for r in get_redis().smembers(ROOMS_KEY)):
        diff = take(room)
        if diff and any(diff.values()):
            send(room, {"room": room, **diff})
