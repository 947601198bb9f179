"""The Query type: entry points that check access as the REST routes do (a project the
caller cannot read is NOT_FOUND), then hand over to ``types.py``."""
from ariadne import QueryType
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from ..admin import service as admin
from ..admin.schemas import UserListArgs
from ..auth.permissions import load_project, readable_project_ids
from ..batches import service as batches
from ..auth.tokens import require_admin
from ..errors import not_found
from ..extensions import db
from ..ids import MAX_ID, plain_int
from ..issues import service as issues
from ..models import Batch, Issue, Membership, User
from ..projects import service as projects
from ..search import service as search
from ..search.routes import SearchArgs
from .connections import Connection, check_first
from .problems import load
from .types import issue_connection

query_type = QueryType()


def row_id(text, what):
    """An ``ID`` argument as a row id; anything else names nothing (NOT_FOUND)."""
    value = plain_int(str(text), MAX_ID)
    if not value:
        raise not_found(what)
    return value


@query_type.field("viewer")
def resolve_viewer(_root, info):
    return info.context.user


@query_type.field("user")
def resolve_user(_root, info, id):
    """Admins see anyone; others themselves and the people they share a project with."""
    viewer = info.context.user
    user = db.session.get(User, row_id(id, "user"))
    if user is None or viewer.is_admin or user.id == viewer.id:
        return user
    theirs = aliased(Membership)
    shared = db.session.scalar(select(func.count()).select_from(Membership).join(
        theirs, theirs.project_id == Membership.project_id).where(
        Membership.user_id == viewer.id, theirs.user_id == user.id))
    return user if shared else None


@query_type.field("users")
def resolve_users(_root, info, first, after=None, q=None):
    require_admin()
    args = {"limit": check_first(first), **({"cursor": after} if after else {}), **({"q": q} if q else {})}
    args = load(UserListArgs(), args)
    return Connection(admin.list_users(args), lambda: db.session.scalar(select(func.count()).select_from(User)),
                      info.context.batches)


@query_type.field("project")
def resolve_project(_root, info, key):
    return load_project(key, info.context.user)


@query_type.field("projects")
def resolve_projects(_root, info, first, after=None):
    user = info.context.user
    page = projects.list_projects(user, check_first(first), after)
    readable = readable_project_ids(user).subquery()
    return Connection(page, lambda: db.session.scalar(select(func.count()).select_from(readable)),
                      info.context.batches)


@query_type.field("issue")
def resolve_issue(_root, info, id=None, key=None):
    """One issue by ``id`` or by ``key`` (``WEB-12``); NOT_FOUND where REST says 404."""
    user = info.context.user
    if id is not None:
        return issues.load_issue(row_id(id, "issue"), user)
    if key is None:
        raise not_found("issue")
    project_key, _, number = key.rpartition("-")
    project = load_project(project_key, user)
    issue = db.session.scalar(select(Issue).where(Issue.project_id == project.id,
                                                  Issue.number == (plain_int(number, MAX_ID) or 0)))
    if issue is None:
        raise not_found("issue")
    return issue


@query_type.field("issues")
def resolve_issues(_root, info, project, first, after=None, filter=None, order_by="-created_at"):
    return issue_connection(info, load_project(project, info.context.user), first, after, filter, order_by)


@query_type.field("search")
def resolve_search(_root, info, q, first, types=None, after=None):
    """REST's search, its arguments checked by REST's schema."""
    args = {"q": q, "limit": check_first(first), **({"cursor": after} if after else {})}
    if types is not None:
        args["types"] = ",".join(types)
    args = load(SearchArgs(), args)
    wanted = {name.strip() for name in args["types"].split(",")}
    page = search.search(info.context.user, args["q"], wanted, args["limit"], args["cursor"])
    return Connection(page, lambda: None, serialized=True)


@query_type.field("batch")
def resolve_batch(_root, info, id):
    return batches.load_batch(row_id(id, "batch"), info.context.user)


@query_type.field("batches")
def resolve_batches(_root, info, first, after=None):
    user = info.context.user
    page = batches.list_batches(user, check_first(first), after)
    mine = select(func.count()).select_from(Batch)
    if not user.is_admin:
        mine = mine.where(Batch.user_id == user.id)
    return Connection(page, lambda: db.session.scalar(mine), info.context.batches)
