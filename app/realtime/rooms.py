"""Rooms a connection may join, checked against the database at join time."""
import re

from sqlalchemy import select

from ..auth.permissions import role_in
from ..extensions import db
from ..models import Batch, Issue, Project

ROOM = re.compile(r"^(project):([A-Z]{2,10})$|^(issue|batch):([1-9][0-9]{0,9})$")


class RoomError(Exception):
    """A room that does not exist, or that the caller may not read."""


def parse(room):
    match = ROOM.match(room) if isinstance(room, str) else None
    if not match:
        raise RoomError("unknown room")
    kind = match.group(1) or match.group(3)
    return kind, match.group(2) or int(match.group(4))


def check_access(room, user):
    """Return ``(kind, project)`` if ``user`` may read ``room`` (project is None for batches)."""
    kind, ident = parse(room)
    if kind == "batch":
        batch = db.session.get(Batch, ident)
        if batch is None or (batch.user_id != user.id and not user.is_admin):
            raise RoomError("not found or not allowed")
        return kind, None
    if kind == "project":
        project = db.session.scalar(select(Project).where(Project.key == ident))
    else:
        issue = db.session.get(Issue, ident)
        project = issue.project if issue else None
    if project is None or role_in(project.id, user) is None:
        raise RoomError("not found or not allowed")
    return kind, project


def may_read(room, user_id):
    """Whether the user may (still) read the room: access can come back, or never have gone
    (an admin removed from a project still reads it)."""
    from ..models import User

    user = db.session.get(User, user_id)
    try:
        return user is not None and user.active and check_access(room, user) is not None
    except RoomError:
        return False
