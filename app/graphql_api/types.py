"""Resolvers of the object types: thin reads over the services, batched per request
(``batching.py``) so that nested lists cost a query per level, not per item."""
from ariadne import EnumType, ObjectType, ScalarType
from graphql.utilities import value_from_ast_untyped
from sqlalchemy import func, select

from ..comments import service as comments
from ..events import service as events
from ..extensions import db
from ..issues import service as issues
from ..models import Membership, Project, User
from ..models.base import isoformat
from ..models.batches import BATCH_STATUSES
from ..models.issues import PRIORITIES, STATUSES
from ..models.projects import ROLES
from ..projects import service as projects
from ..issues.schemas import IssueListArgs
from .connections import Connection, check_first
from .problems import load

datetime_scalar = ScalarType("DateTime", serializer=isoformat)
json_scalar = ScalarType("JSON", serializer=lambda value: value, value_parser=lambda value: value,
                         literal_parser=lambda node, variables=None: value_from_ast_untyped(node, variables))
enums = [EnumType("IssueStatus", {name.upper(): name for name in STATUSES}),
         EnumType("IssuePriority", {name.upper(): name for name in PRIORITIES}),
         EnumType("Role", {name.upper(): name for name in ROLES}),
         EnumType("SearchType", {"PROJECT": "project", "ISSUE": "issue", "COMMENT": "comment"}),
         EnumType("BatchMode", {"ATOMIC": "atomic", "BEST_EFFORT": "best_effort"}),
         EnumType("BatchStatus", {name.upper(): name for name in BATCH_STATUSES})]

user_type = ObjectType("User")
project_type = ObjectType("Project")
issue_type = ObjectType("Issue")
comment_type = ObjectType("Comment")
event_type = ObjectType("Event")
member_type = ObjectType("Member")


def load_user(info, user_id, item, user_ids_of):
    """The user ``user_id``, loaded with those of ``item``'s siblings (``user_ids_of(sibling)``)."""
    context = info.context
    siblings = context.batches.siblings(item)
    return context.batches.loader("users", _users).load(
        user_id, (uid for sibling in siblings for uid in user_ids_of(sibling)))


def _users(ids):
    return {user.id: user for user in db.session.scalars(select(User).where(User.id.in_(ids)))}


@user_type.field("email")
def resolve_email(user, info):
    """An e-mail only for oneself and for admins (as REST's member lists)."""
    viewer = info.context.user
    return user.email if viewer.is_admin or viewer.id == user.id else None


@project_type.field("viewerRole")
def resolve_viewer_role(project, info):
    context = info.context
    if context.user.is_admin:
        return projects.caller_role(project, context.user)

    def roles(project_ids):
        return dict(db.session.execute(select(Membership.project_id, Membership.role).where(
            Membership.user_id == context.user.id, Membership.project_id.in_(project_ids))).all())

    siblings = context.batches.siblings(project)
    return context.batches.loader("viewer-roles", roles).load(project.id, (p.id for p in siblings))


@project_type.field("members")
def resolve_members(project, info, first, after=None):
    page = projects.list_members(project, check_first(first), after)
    count = select(func.count()).where(Membership.project_id == project.id)
    return Connection(page, lambda: db.session.scalar(count), info.context.batches)


@member_type.field("user")
def resolve_member_user(membership, info):
    return load_user(info, membership.user_id, membership, lambda m: [m.user_id])


@project_type.field("issues")
def resolve_project_issues(project, info, first, after=None, filter=None, order_by="-created_at"):
    return issue_connection(info, project, first, after, filter, order_by)


def issue_list_args(first, after, filter, order_by):
    """The REST list's arguments from GraphQL's, checked by the REST list's schema."""
    filter = {**(filter or {})}
    if filter.get("assignee_id") is not None:
        filter["assignee_id"] = str(filter["assignee_id"])  # as a query string gives it
    args = {"limit": check_first(first), "sort": order_by, **{k: v for k, v in filter.items() if v is not None}}
    if after is not None:
        args["cursor"] = after
    return load(IssueListArgs(), args)


def issue_connection(info, project, first, after, filter, order_by):
    """A project's issues as REST lists them (filters and sort through ``IssueListArgs``)."""
    args = issue_list_args(first, after, filter, order_by)
    return Connection(issues.list_issues(project.id, args), lambda: issues.count_issues(project.id, args),
                      info.context.batches)


@project_type.field("events")
def resolve_project_events(project, info, first, after_seq=0, after=None):
    page = events.list_events(project.id, project.key, after_seq, check_first(first), after)
    return Connection(page, lambda: events.count_events(project.id, after_seq), info.context.batches)


@issue_type.field("key")
def resolve_key(issue, _info):
    return f"{issue.project.key}-{issue.number}"


@issue_type.field("assignee")
def resolve_assignee(issue, info):
    if issue.assignee_id is None:
        return None
    return load_user(info, issue.assignee_id, issue, lambda i: [i.assignee_id, i.reporter_id])


@issue_type.field("reporter")
def resolve_reporter(issue, info):
    return load_user(info, issue.reporter_id, issue, lambda i: [i.assignee_id, i.reporter_id])


@issue_type.field("comments")
def resolve_comments(issue, info, first, after=None):
    batches = info.context.batches
    first = check_first(first)
    siblings = [sibling.id for sibling in batches.siblings(issue)]
    counts = batches.loader("comment-counts", issues.comment_counts)
    count = lambda: counts.load(issue.id, siblings) or 0  # noqa: E731
    if after is not None:
        return Connection(comments.list_comments(issue.id, first, after), count, batches)

    def first_pages(issue_ids):
        pages = comments.first_comments(issue_ids, first)
        batches.remember([comment for page in pages.values() for comment in page.rows])
        return pages

    page = batches.loader(("first-comments", first), first_pages).load(issue.id, siblings)
    return Connection(page, count)  # its comments are siblings of all the issues' already


@issue_type.field("events")
def resolve_issue_events(issue, info, first, after=None):
    page = issues.issue_events(issue.id, issue.project_id, check_first(first), after)
    return Connection(page, lambda: issues.count_issue_events(issue.id, issue.project_id), info.context.batches)


@comment_type.field("author")
def resolve_author(comment, info):
    return load_user(info, comment.author_id, comment, lambda c: [c.author_id])


@comment_type.field("issue")
def resolve_comment_issue(comment, _info):
    return comment.issue


@event_type.field("project")
def resolve_event_project(event, _info):
    key = getattr(event, "project_key", None)  # a live event (subscriptions.LiveEvent) names it
    return key or db.session.get(Project, event.project_id).key  # a row's project was read before it


@event_type.field("actor")
def resolve_actor(event, info):
    if event.actor_id is None:
        return None
    return load_user(info, event.actor_id, event, lambda e: [e.actor_id])


bindables = [datetime_scalar, json_scalar, *enums, user_type, project_type, issue_type, comment_type, event_type,
             member_type]
