"""One permission check: what role a user has in a project, and whether it is enough."""
from typing import NamedTuple

from flask import g
from sqlalchemy import bindparam, select

from ..errors import Problem, not_found
from ..extensions import db
from ..http import MAX_ID, plain_int
from ..models import ApiToken, Event, Issue, Membership, Project, User
from .tokens import TOKEN_QUERY, bearer_token, is_live, is_live_token, sign_in, token_params, unauthorized

ROLE_RANK = {"viewer": 1, "member": 2, "maintainer": 3}
ROLES_SEEN = "beacon_roles_seen"  # session.info keys, cleared when the transaction ends
STAMPS_SEEN = "beacon_stamps_seen"
_LAST_EVENT_AT = (select(Event.at).where(Event.project_id == Project.id, Event.seq == Project.last_event_seq)
                  .correlate(Project).scalar_subquery())


def forget_seen(session_info):
    """Forget the roles and stamps a transaction looked up (it ended: they may change)."""
    session_info.pop(ROLES_SEEN, None)
    session_info.pop(STAMPS_SEEN, None)


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


def require_owner_or_maintainer(project, user, owner_id, refusal):
    """Changing one person's contribution (a comment, an attachment) takes its owner, as a
    member still, or a maintainer: 404 if the user cannot read the project, else 403 with
    ``refusal``."""
    role = require_project_role(project, user, "viewer")
    if role == "maintainer" or (role == "member" and owner_id == user.id):
        return role
    raise Problem(403, refusal)


def _check_role(project, actual, needed):
    if actual is None:
        raise not_found("project")
    if ROLE_RANK[actual] < ROLE_RANK[needed]:
        raise Problem(403, f"This needs the {needed} role in project {project.key}.")


def load_project(key, user=None, role="viewer"):
    """Return the project with this key if the user has ``role`` in it (one query).

    Without ``user``, the caller is resolved from the bearer token in that same query, so
    a project-scoped request starts with one round trip. The project's content stamp is
    remembered for the transaction (``content_stamp``).
    """
    user = user or g.get("user")
    if user is None:
        row = _load_with_caller(key)
        user = g.user
    else:
        row = db.session.execute(
            select(Project, Membership.role, _LAST_EVENT_AT).where(Project.key == key)
            .outerjoin(Membership, (Membership.project_id == Project.id) & (Membership.user_id == user.id))
        ).first()
    if row is None or row[0] is None:
        raise not_found("project")
    project, actual, last_event_at = row
    db.session.info.setdefault(ROLES_SEEN, {})[(project.id, user.id)] = actual
    db.session.info.setdefault(STAMPS_SEEN, {})[project.id] = (project.last_event_seq, last_event_at)
    _check_role(project, "maintainer" if user.is_admin else actual, role)
    return project


def _and_role(statement):
    """``statement`` (on the token row and a project) joined to the token user's
    membership in the project; NULL when missing."""
    return statement.outerjoin(Membership, (Membership.project_id == Project.id)
                               & (Membership.user_id == ApiToken.user_id))


def _to_project_and_role(statement):
    """``statement`` (on the token row) joined to the project of key ``:key`` and the
    token user's membership in it; either is NULL when missing."""
    return _and_role(statement.outerjoin(Project, Project.key == bindparam("key")))


_CALLER_AND_PROJECT = _to_project_and_role(TOKEN_QUERY.add_columns(Project, Membership.role, _LAST_EVENT_AT))


def _load_with_caller(key):
    """Resolve the bearer token (401 when it is not live) and read the project with the
    caller's role; return ``(project or None, role, last event time)``."""
    plain = bearer_token()
    params = token_params(plain)
    row = None if params is None else db.session.execute(_CALLER_AND_PROJECT, {**params, "key": key}).first()
    sign_in(row[0] if row is not None and is_live(row[0], plain) else None)
    return row[1:]


class ProjectAccess(NamedTuple):
    """What a read of a project's content needs: the project's id and key, the caller's
    role in it, and its content stamp."""
    id: int
    key: str
    role: str
    stamp: tuple


def _access_query(*columns):
    """The bearer token's row (``:token_hash``) with its user, plus ``columns``; joins to
    the project and the caller's membership in it are added per use."""
    return (select(ApiToken.user_id, ApiToken.token_hash, ApiToken.revoked_at, ApiToken.expires_at, User.active,
                   User.is_admin, *columns, Project.id.label("project_id"), Project.key, Membership.role,
                   Project.last_event_seq, _LAST_EVENT_AT.label("last_event_at"))
            .select_from(ApiToken).join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == bindparam("token_hash")))


_ACCESS = _to_project_and_role(_access_query())
_ISSUE_ACCESS = _and_role(_access_query(Issue.id.label("issue_id"))
                          .outerjoin(Issue, Issue.id == bindparam("issue_id"))
                          .outerjoin(Project, Project.id == Issue.project_id))
_ISSUE_BY_KEY_ACCESS = _to_project_and_role(_access_query(Issue.id.label("issue_id"))).outerjoin(
    Issue, (Issue.project_id == Project.id) & (Issue.number == bindparam("number")))


def _caller_access(query, params):
    """Run an access query for the bearer token (401 when it is not live); return its row
    and the ``ProjectAccess`` it found (the project may be None, the role too)."""
    plain = bearer_token()
    token = token_params(plain)
    row = None
    if token is not None:
        with db.engine.connect() as connection:  # not the session's: a cached answer never starts it
            row = connection.execute(query, {**token, **params}).first()
    if row is None or not is_live_token(row.token_hash, row.revoked_at, row.expires_at, row.active, plain):
        raise unauthorized()
    g.user_id = row.user_id
    actual = "maintainer" if row.is_admin else row.role
    return row, ProjectAccess(row.project_id, row.key, actual, (row.last_event_seq, row.last_event_at))


def project_access(key, role="viewer"):
    """``load_project`` for a request that only reads the project's content: the bearer
    token, the project and the caller's role are checked in one Core query, and no ORM
    object is built (a cached issue list needs nothing more). The caller's user is loaded
    only if the request asks ``current_user()`` for it."""
    _row, access = _caller_access(_ACCESS, {"key": key})
    if access.id is None:
        raise not_found("project")
    _check_role(access, access.role, role)
    return access


def issue_access(issue_id=None, key=None):
    """``project_access`` for a read of one issue, by id or by key (``WEB-12``): return
    ``(issue id, access to its project)``. 404 when there is no such issue or the caller
    may not read its project, as ``load_readable``."""
    if key is None:
        row, access = _caller_access(_ISSUE_ACCESS, {"issue_id": issue_id})
    else:
        project_key, _, number = key.rpartition("-")
        number = plain_int(number, MAX_ID) or 0  # 0: no issue
        row, access = _caller_access(_ISSUE_BY_KEY_ACCESS, {"key": project_key, "number": number})
    if row.issue_id is None or access.role is None:
        raise not_found("issue")
    return row.issue_id, access


def content_stamp(project, *, fresh=False):
    """``(seq, at)`` of the project's latest event. It moves with every change to the
    project's issues, comments or members, and differs after a restore rewinds the seq.
    ``fresh`` reads it again instead of using the one ``load_project`` saw."""
    stamp = None if fresh else db.session.info.get(STAMPS_SEEN, {}).get(project.id)
    if stamp is None:
        stamp = tuple(db.session.execute(
            select(Project.last_event_seq, _LAST_EVENT_AT).where(Project.id == project.id)).one())
    return stamp


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
