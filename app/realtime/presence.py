"""Presence kept in Redis, so every server process sees the same members.

One hash per room, ``beacon:presence:{room}``: connection id -> JSON member entry
``{"user_id", "name", "state"}``. The real-time namespace writes it on join/leave; this
module also answers the counts analytics asks for.
"""
import json

from flask import current_app
from sqlalchemy import select

KEY = "beacon:presence:{room}"


def _redis():
    from ..worker import get_redis

    return get_redis(current_app)


def room_entries(room):
    """The connection entries of a room: ``{connection_id: member}``."""
    raw = _redis().hgetall(KEY.format(room=room))
    return {sid.decode(): json.loads(value) for sid, value in raw.items()}


def online_counts(project_ids):
    """Distinct users and connections present in the rooms of these projects."""
    from ..extensions import db
    from ..models import Project

    if not project_ids:
        return {"online_users": 0, "connections": 0}
    keys = db.session.scalars(select(Project.key).where(Project.id.in_(project_ids))).all()
    users, connections = set(), set()
    for key in keys:
        for sid, member in room_entries(f"project:{key}").items():
            connections.add(sid)
            users.add(member["user_id"])
    return {"online_users": len(users), "connections": len(connections)}
