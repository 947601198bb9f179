"""Comments: each change writes its event to the issue's project."""
from sqlalchemy import select

from ..auth.permissions import load_readable, require_project_role
from ..errors import forbidden, validation_error
from ..events.service import record_event
from ..extensions import db
from ..http import check_version
from ..models import Comment
from ..models.base import isoformat, utcnow
from ..pagination import Key, paginate


def comment_dict(comment):
    return {
        "id": comment.id, "issue_id": comment.issue_id, "author_id": comment.author_id,
        "body": comment.body, "created_at": isoformat(comment.created_at),
        "updated_at": isoformat(comment.updated_at), "version": comment.version,
    }


def _check_body(body):
    if not body.strip():
        raise validation_error({"body": ["A comment cannot be blank."]})


def create_comment(issue, user, body, *, commit=True):
    project = issue.project
    require_project_role(project, user, "member")
    _check_body(body)
    now = utcnow()
    comment = Comment(issue_id=issue.id, project_id=project.id, author_id=user.id, body=body,
                      created_at=now, updated_at=now)
    db.session.add(comment)
    db.session.flush()
    record_event(project, "comment.created", user.id, {"issue_id": issue.id, "comment": comment_dict(comment)})
    if commit:
        db.session.commit()
    return comment


def list_comments(issue_id, limit, cursor):
    query = select(Comment).where(Comment.issue_id == issue_id)
    keys = [Key(Comment.created_at, lambda c: c.created_at), Key(Comment.id, lambda c: c.id)]
    return paginate(query, keys, limit, cursor)


def load_comment(comment_id, user, *, for_update=False):
    return load_readable(Comment, comment_id, user, for_update=for_update)


def _require_author_or_maintainer(comment, user):
    project = comment.issue.project
    role = require_project_role(project, user, "viewer")
    if role == "maintainer" or (role == "member" and comment.author_id == user.id):
        return project
    raise forbidden("Only the author or a maintainer may change this comment.")


def update_comment(comment, user, body, expected_version=None):
    project = _require_author_or_maintainer(comment, user)
    check_version(comment.version, expected_version)
    _check_body(body)
    if body != comment.body:
        old = comment.body
        comment.body = body
        comment.updated_at = utcnow()
        db.session.flush()
        record_event(project, "comment.updated", user.id, {
            "issue_id": comment.issue_id, "comment": comment_dict(comment), "changes": {"body": [old, body]}})
    db.session.commit()
    return comment


def delete_comment(comment, user):
    project = _require_author_or_maintainer(comment, user)
    record_event(project, "comment.deleted", user.id, {"issue_id": comment.issue_id, "comment": comment_dict(comment)})
    db.session.delete(comment)
    db.session.commit()
