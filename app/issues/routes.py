"""Routes: issues of a project, and issues by id or key."""
from flask import g

from ..auth.access import caller_access
from ..auth.permissions import load_project
from ..auth.tokens import current_user
from ..events.routes import EventPage
from ..events.service import serialize_event
from ..notifications.service import is_watching
from ..page_cache import cached_json
from ..pagination import PageArgs, page_schema
from ..versions import etag, if_match_version
from . import bp, service
from .schemas import IssueInput, IssueListArgs, IssueListItem, IssueOutput, IssuePatch, IssueRead

IssuePage = page_schema(IssueListItem, "IssuePage")
SEQ_HEADER = "Beacon-Seq"
SEQ_HEADER_DOC = {SEQ_HEADER: {
    "description": "The project's seq (its change feed) that the items show: events after it are newer than "
                   "the list. Absent when changes kept landing while the list was read.",
    "schema": {"type": "integer"}}}


def _one(issue):
    return service.issue_dict(issue, issue.project.key), 200, etag(issue.version)


@bp.route("/projects/<string:key>/issues", methods=["POST"])
@bp.arguments(IssueInput)
@bp.response(201, IssueOutput)
def create_issue(data, key):
    """Create an issue (members and up); it is open and medium unless told otherwise."""
    user = current_user()
    issue = service.create_issue(load_project(key, user), user, data)
    return service.issue_dict(issue, key), 201, etag(issue.version)


@bp.route("/projects/<string:key>/issues", methods=["GET"])
@bp.arguments(IssueListArgs, location="query")
@bp.response(200, IssuePage, headers=SEQ_HEADER_DOC)
def list_issues(args, key):
    """List a project's issues with filters, text search and sorting, each with its
    number of comments and attachments; ``Beacon-Seq`` names the project seq the list shows."""
    access = caller_access(project_key=key)

    def read():
        page = service.list_issues(access.id, args)
        ids = [issue.id for issue in page["items"]]
        comments, attachments = service.comment_counts(ids), service.attachment_counts(ids)
        page["items"] = [{**service.issue_dict(issue, key), "comment_count": comments.get(issue.id, 0),
                          "attachment_count": attachments.get(issue.id, 0)} for issue in page["items"]]
        return page

    def render():
        page, seq = service.read_at_one_seq(access.id, read)
        return page, None if seq is None else {SEQ_HEADER: str(seq)}

    return cached_json(("issues", access.id, tuple(sorted(args.items()))), access, render)


@bp.route("/issues/<int:issue_id>", methods=["GET"])
@bp.response(200, IssueRead)
def get_issue(issue_id):
    return _read_one(caller_access(issue_id=issue_id))


@bp.route("/issues/by-key/<string:issue_key>", methods=["GET"])
@bp.response(200, IssueRead)
def get_issue_by_key(issue_key):
    return _read_one(caller_access(issue_key=issue_key))


@bp.route("/issues/<int:issue_id>/events", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, EventPage)
def list_issue_events(args, issue_id):
    """An issue's history: the events of the change feed that name it (its changes and
    its comments'), oldest first."""
    access = caller_access(issue_id=issue_id)

    def render():
        page = service.issue_events(issue_id, access.id, args["limit"], args["cursor"])
        page["items"] = [serialize_event(event, access.key) for event in page["items"]]
        return page, None

    return cached_json(("issue-events", issue_id, args["limit"], args["cursor"]), access, render)


def _read_one(access):
    """One issue, kept in the page cache like a list (by id and by key alike), with
    whether the caller watches it: the cached body is the same for every reader, so
    ``watching`` joins it on the way out."""

    def render():
        issue = service.checked_issue(access.issue_id)
        return service.issue_dict(issue, access.key), etag(issue.version)

    response = cached_json(("issue", access.issue_id), access, render)
    watching = b"true" if is_watching(access.issue_id, g.user_id) else b"false"  # caller_access noted g.user_id
    response.set_data(response.get_data().rstrip()[:-1] + b',"watching":' + watching + b"}\n")
    return response


@bp.route("/issues/<int:issue_id>", methods=["PATCH"])
@bp.arguments(IssuePatch)
@bp.response(200, IssueOutput)
def update_issue(data, issue_id):
    """Change an issue; with If-Match, only if it is still at that version."""
    user = current_user()
    issue = service.load_issue(issue_id, user, for_update=True)
    issue = service.update_issue(issue, user, data, if_match_version())
    return _one(issue)


@bp.route("/issues/<int:issue_id>", methods=["DELETE"])
@bp.response(204)
def delete_issue(issue_id):
    """Delete an issue (maintainers)."""
    user = current_user()
    service.delete_issue(service.load_issue(issue_id, user, for_update=True), user)
