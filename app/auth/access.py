"""The request's caller and a project's content, checked in one Core query: the door of
cached reads (issue lists, an issue, comments, the change feed).

Such a read needs no ORM object: the bearer token, the project (found by its key, or by
an issue's id or key) and the caller's role in it come back in one row, read outside the
session, so a cached answer never starts a transaction. The rule is the one of
``permissions.py`` (``check_role``): 401 without a live token, 404 when the caller cannot
read the project, 403 when the role is too low. The caller's ``User`` is loaded only if
the request asks ``current_user()`` for it.
"""
from typing import NamedTuple

from flask import g
from sqlalchemy import bindparam, select

from ..errors import not_found
from ..extensions import db
from ..ids import MAX_ID, plain_int
from ..models import ApiToken, Issue, Membership, Project, User
from .permissions import LAST_EVENT_AT, check_role
from .tokens import bearer_token, is_live_token, token_params, unauthorized


class ProjectAccess(NamedTuple):
    """What a read of a project's content needs: the project's id and key, the caller's
    role in it, its content stamp, and the issue the read is about (or None)."""
    id: int
    key: str
    role: str
    stamp: tuple
    issue_id: int | None = None


def _access_query(*columns):
    """The bearer token's row (``:token_hash``) with its user, plus ``columns``, the
    project and the caller's membership in it (joins added per use)."""
    return (select(ApiToken.user_id, ApiToken.token_hash, ApiToken.revoked_at, ApiToken.expires_at, User.active,
                   User.is_admin, *columns, Project.id.label("project_id"), Project.key, Membership.role,
                   Project.last_event_seq, LAST_EVENT_AT.label("last_event_at"))
            .select_from(ApiToken).join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == bindparam("token_hash")))


def _and_role(statement):
    """``statement`` joined to the token user's membership in its project (NULL when none)."""
    return statement.outerjoin(Membership, (Membership.project_id == Project.id)
                               & (Membership.user_id == ApiToken.user_id))


# Built once: a statement object made per request costs more than the query it runs.
_BY_PROJECT_KEY = _and_role(_access_query().outerjoin(Project, Project.key == bindparam("key")))
_BY_ISSUE_ID = _and_role(_access_query(Issue.id.label("issue_id"))
                         .outerjoin(Issue, Issue.id == bindparam("issue_id"))
                         .outerjoin(Project, Project.id == Issue.project_id))
_BY_ISSUE_KEY = _and_role(_access_query(Issue.id.label("issue_id"))
                          .outerjoin(Project, Project.key == bindparam("key"))).outerjoin(
    Issue, (Issue.project_id == Project.id) & (Issue.number == bindparam("number")))


def caller_access(*, project_key=None, issue_id=None, issue_key=None, role="viewer"):
    """The request caller's ``ProjectAccess`` to a project, named by one of its key, an
    issue's id, or an issue's key (``WEB-12``); 404 when there is no such project or
    issue, or the caller may not read it (as ``permissions.load_readable``)."""
    if project_key is not None:
        row = _caller_row(_BY_PROJECT_KEY, {"key": project_key})
    elif issue_id is not None:
        row = _caller_row(_BY_ISSUE_ID, {"issue_id": issue_id})
    else:
        key, _, number = issue_key.rpartition("-")
        number = plain_int(number, MAX_ID) or 0  # 0: no issue
        row = _caller_row(_BY_ISSUE_KEY, {"key": key, "number": number})
    actual = "maintainer" if row.is_admin else row.role
    named_issue = project_key is None
    if named_issue and (row.issue_id is None or actual is None):
        raise not_found("issue")
    if row.project_id is None:
        raise not_found("project")
    check_role(row.key, actual, role)
    return ProjectAccess(row.project_id, row.key, actual, (row.last_event_seq, row.last_event_at),
                         row.issue_id if named_issue else None)


def _caller_row(query, params):
    """Run an access query for the bearer token (401 when it is not live) and note the
    caller's id for ``current_user``."""
    plain = bearer_token()
    token = token_params(plain)
    row = None
    if token is not None:
        with db.engine.connect() as connection:  # not the session's: a cached answer never starts it
            row = connection.execute(query, {**token, **params}).first()
    if row is None or not is_live_token(row.token_hash, row.revoked_at, row.expires_at, row.active, plain):
        raise unauthorized()
    g.user_id = row.user_id
    return row
