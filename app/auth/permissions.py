"""One permission check: what role a user has in a project, and whether it is enough."""
from sqlalchemy import select

from ..errors import Problem, not_found
from ..extensions import db
from ..models import Membership, Project

ROLE_RANK = {"viewer": 1, "member": 2, "maintainer": 3}
ROLES_SEEN = "beacon_roles_seen"  # session.info key, cleared when the transaction ends


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
    _check_role(project, actual, role)
    return actual


def _check_role(project, actual, needed):
    if actual is None:
        raise not_found("project")
    if ROLE_RANK[actual] < ROLE_RANK[needed]:
        raise Problem(403, f"This needs the {needed} role in project {project.key}.")


def load_project(key, user, role="viewer"):
    """Return the project with this key if the user has ``role`` in it (one query)."""
    row = db.session.execute(
        select(Project, Membership.role).where(Project.key == key)
        .outerjoin(Membership, (Membership.project_id == Project.id) & (Membership.user_id == user.id))
    ).first()
    if row is None:
        raise not_found("project")
    project, actual = row
    db.session.info.setdefault(ROLES_SEEN, {})[(project.id, user.id)] = actual
    _check_role(project, "maintainer" if user.is_admin else actual, role)
    return project


def readable_project_ids(user):
    """A select of the ids of the projects the user can read (admins: all)."""
    if user.is_admin:
        return select(Project.id)
    return select(Membership.project_id).where(Membership.user_id == user.id)
