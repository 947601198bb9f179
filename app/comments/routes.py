"""Routes: comments of an issue, and comments by id."""
from ..auth.access import caller_access
from ..auth.tokens import current_user
from ..issues.service import load_issue
from ..page_cache import cached_json
from ..pagination import PageArgs, page_schema
from ..versions import etag, if_match_version
from . import bp, service
from .schemas import CommentInput, CommentOutput

CommentPage = page_schema(CommentOutput, "CommentPage")


@bp.route("/issues/<int:issue_id>/comments", methods=["POST"])
@bp.arguments(CommentInput)
@bp.response(201, CommentOutput)
def create_comment(data, issue_id):
    user = current_user()
    comment = service.create_comment(load_issue(issue_id, user), user, data["body"])
    return service.comment_dict(comment), 201, etag(comment.version)


@bp.route("/issues/<int:issue_id>/comments", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, CommentPage)
def list_comments(args, issue_id):
    """List an issue's comments, oldest first."""
    access = caller_access(issue_id=issue_id)

    def render():
        page = service.list_comments(issue_id, args["limit"], args["cursor"])
        page["items"] = [service.comment_dict(c) for c in page["items"]]
        return page, None

    return cached_json(("comments", issue_id, args["limit"], args["cursor"]), access, render)


@bp.route("/comments/<int:comment_id>", methods=["PATCH"])
@bp.arguments(CommentInput)
@bp.response(200, CommentOutput)
def update_comment(data, comment_id):
    """Edit a comment (its author, or a maintainer)."""
    user = current_user()
    comment = service.load_comment(comment_id, user, for_update=True)
    comment = service.update_comment(comment, user, data["body"], if_match_version())
    return service.comment_dict(comment), 200, etag(comment.version)


@bp.route("/comments/<int:comment_id>", methods=["DELETE"])
@bp.response(204)
def delete_comment(comment_id):
    user = current_user()
    service.delete_comment(service.load_comment(comment_id, user, for_update=True), user)
