"""Who may do what in a project: one role lookup, one check, and the loaders that apply it.

Every function here takes the acting user as an argument (never ``flask.g``), so routes,
batch jobs and GraphQL resolvers call the same ones. The request path's cached reads have
a faster door of their own, ``auth/access.py``, which applies the same rule in one Core
query from the bearer token.
"""
from sqlalchemy import select

from ..errors import Problem, not_found
from ..extensions import db
from ..models import Event, Membership, Project

ROLE_RANK = {"viewer": 1, "member": 2, "maintainer": 3}
ROLES_SEEN = "beacon_roles_seen"  # a session.info key, cleared when the transaction ends
LAST_EVENT_AT = (select(Event.at).where(Event.project_id == Project.id, Event.seq == Project.last_event_seq)
                 .correlate(Project).scalar_subquery())


def forget_seen(session_info):
    """Forget the roles a transaction looked up (it ended: they may change)."""
    session_info.pop(ROLES_SEEN, None)


def role_in(project_id, user):
    """Return the user's role in the project (admins count as maintainers), or None.

    Remembered for the rest of the transaction, so a route's check and its service's
    check cost one query.
    """
    if user.is_admin:
        return "maintainer"
    known = db.session.info.setdefault(ROLES_SEEN, {})
    if (project_id, user.id) not in known:
        known[(project_id, user.id)] = db.session.scalar(
            select(Membership.role).where(Membership.project_id == project_id, Membership.user_id == user.id))
    return known[(project_id, user.id)]


def require_project_role(project, user, role="viewer"):
    """Raise 404 if the user cannot read the project, 403 if their role is below ``role``."""
    actual = role_in(project.id, user)
    check_role(project.key, actual, role)
    return actual


def require_owner_or_maintainer(project, user, owner_id, refusal):
    """Changing one person's contribution (a comment, an attachment) takes its owner, as a
    member still, or a maintainer: 404 if the user cannot read the project, else 403 with
    ``refusal``."""
    role = require_project_role(project, user, "viewer")
    if role == "maintainer" or (role == "member" and owner_id == user.id):
        return role
    raise Problem(403, refusal)


def check_role(project_key, actual, needed):
    """Raise 404 when ``actual`` (a role, or None) cannot read the project, 403 when it is
    below ``needed``."""
    if actual is None:
        raise not_found("project")
    if ROLE_RANK[actual] < ROLE_RANK[needed]:
        raise Problem(403, f"This needs the {needed} role in project {project_key}.")


def load_project(key, actor, role="viewer"):
    """Return the project with this key if ``actor`` (a ``User``) has ``role`` in it, in
    one query: 404 if they cannot read it, 403 if their role is below ``role``. The role
    is remembered for the transaction (``role_in``)."""
    row = db.session.execute(
        select(Project, Membership.role).where(Project.key == key)
        .outerjoin(Membership, (Membership.project_id == Project.id) & (Membership.user_id == actor.id))
    ).first()
    if row is None:
        raise not_found("project")
    project, actual = row
    db.session.info.setdefault(ROLES_SEEN, {})[(project.id, actor.id)] = actual
    check_role(project.key, "maintainer" if actor.is_admin else actual, role)
    return project


def content_stamp(project_id):
    """``(seq, at)`` of the project's latest event, read now. It moves with every change
    to the project's issues, comments or members, and differs after a restore rewinds the
    seq."""
    return tuple(db.session.execute(
        select(Project.last_event_seq, LAST_EVENT_AT).where(Project.id == project_id)).one())


def readable_project_ids(user):
    """A select of the ids of the projects the user can read (admins: all)."""
    if user.is_admin:
        return select(Project.id)
    return select(Membership.project_id).where(Membership.user_id == user.id)


def load_readable(model, row_id, user, *, for_update=False):
    """Return the row of ``model`` (an issue, a comment) if the user can read its project,
    else raise 404.

    ``for_update`` locks the row for a change: two concurrent PATCHes then apply one after
    the other instead of the second failing on a version it read before the first committed.
    """
    query = select(model).where(model.id == row_id, model.project_id.in_(readable_project_ids(user)))
    if for_update:
        query = query.with_for_update(of=model).execution_options(populate_existing=True)
    row = db.session.scalar(query)
    if row is None:
        raise not_found(model.__name__.lower())
    return row
