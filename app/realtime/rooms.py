"""Rooms a connection may join, checked against the database at join time, and again for
all of a process's sockets at once by the upkeep's re-validation (``readable``)."""
import re

from sqlalchemy import and_, bindparam, select

from ..auth.permissions import role_in
from ..extensions import db
from ..models import Batch, Issue, Membership, Project, User

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
    user = db.session.get(User, user_id)
    try:
        return user is not None and user.active and check_access(room, user) is not None
    except RoomError:
        return False


# Keys and ids go into the SQL as literals (values of our own making, as in
# ``tokens.sessions``): psycopg binds thousands of parameters four times slower.
PROJECTS_QUERY = (select(Project.key, Membership.user_id).select_from(Project)
                  .outerjoin(Membership, and_(Membership.project_id == Project.id, Membership.user_id.in_(
                      bindparam("users", expanding=True, literal_execute=True))))
                  .where(Project.key.in_(bindparam("keys", expanding=True, literal_execute=True))))
BATCHES_QUERY = select(Batch.id, Batch.user_id).where(Batch.id.in_(bindparam("ids", expanding=True,
                                                                             literal_execute=True)))


def readable(stays):
    """For the re-validation: ``stays`` is ``[(user_id, is_admin, room, project_key)]``
    (``project_key`` None for a batch room); return, for each, None if the user may still
    read the room, else the notice that takes them out: ``room.closed`` when the project
    is gone, else ``access.lost``. One query for the projects (two with batch rooms)."""
    keys = sorted({key for _u, _a, _r, key in stays if key})
    users = sorted({user_id for user_id, _a, _r, key in stays if key})
    batch_ids = sorted({parse(room)[1] for _u, _a, room, key in stays if not key})
    projects, members = set(), set()
    if keys:
        for key, user_id in db.session.execute(PROJECTS_QUERY, {"keys": keys, "users": users}):
            projects.add(key)
            members.add((key, user_id))
    owners = dict(db.session.execute(BATCHES_QUERY, {"ids": batch_ids}).all()) if batch_ids else {}
    verdicts = []
    for user_id, is_admin, room, key in stays:
        if key is None:
            owner = owners.get(parse(room)[1])
            verdicts.append(None if owner is not None and (owner == user_id or is_admin) else "access.lost")
        elif key not in projects:
            verdicts.append("room.closed")
        else:
            verdicts.append(None if is_admin or (key, user_id) in members else "access.lost")
    return verdicts


