"""Comments: each change writes its event to the issue's project.

A comment's text is in the change feed only while it is the comment's text. Its events
carry the comment as it was then (``comment.created``, ``comment.updated`` with
``"changes": {"body": true}``, not the old and new text), and an edit or a delete takes
the body out of the comment's earlier events, marking them ``"redacted": true``; a
``comment.deleted`` carries no body. So text edited away (a pasted secret) or deleted
can no longer be read anywhere: not in the feed, not in a replay on join. Clients still
see that the comment changed, when and by whom, and the latest event of a comment holds
what it says now.
"""
from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased

from ..auth.permissions import load_readable, require_owner_or_maintainer, require_project_role
from ..errors import validation_error
from ..events.service import record_event
from ..extensions import db
from ..models import Comment, Event
from ..models.base import utcnow
from ..pagination import Key, Page, paginate
from ..schemas import renderer
from ..versions import check_version
from .schemas import CommentOutput

TEXT_EVENTS = ("comment.created", "comment.updated")
NEAR = 20  # events read from the comment's last change on, to find the one that holds its text


comment_dict = renderer(CommentOutput)  # a comment as responses and events show it


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


ORDER = [Key(Comment.created_at, lambda c: c.created_at), Key(Comment.id, lambda c: c.id)]  # oldest first


def list_comments(issue_id, limit, cursor):
    return paginate(select(Comment).where(Comment.issue_id == issue_id), ORDER, limit, cursor)


def first_comments(issue_ids, limit):
    """``{issue id: the first page of its comments}`` for many issues in one query (a
    window per issue), as ``list_comments`` would page each: a board's cards at once."""
    rank = func.row_number().over(partition_by=Comment.issue_id,
                                  order_by=[key.order() for key in ORDER]).label("rank")
    ranked = select(Comment, rank).where(Comment.issue_id.in_(issue_ids)).subquery()
    comment = aliased(Comment, ranked)
    rows = db.session.scalars(select(comment).where(ranked.c.rank <= limit + 1)
                              .order_by(ranked.c.issue_id, ranked.c.rank))
    found = {issue_id: [] for issue_id in issue_ids}
    for row in rows:
        found[row.issue_id].append(row)
    pages = {}
    for issue_id, comments in found.items():
        pages[issue_id] = page = Page(comments[:limit], None, ORDER)
        if len(comments) > limit:
            page["next_cursor"] = page.cursor_at(limit - 1)
    return pages


def load_comment(comment_id, user, *, for_update=False):
    return load_readable(Comment, comment_id, user, for_update=for_update)


def _require_author_or_maintainer(comment, user):
    project = comment.issue.project
    require_owner_or_maintainer(project, user, comment.author_id,
                                "Only the author or a maintainer may change this comment.")
    return project


def update_comment(comment, user, body, expected_version=None):
    project = _require_author_or_maintainer(comment, user)
    check_version(comment.version, expected_version)
    _check_body(body)
    if body != comment.body:
        _redact_earlier_events(comment)
        comment.body = body
        comment.updated_at = utcnow()
        db.session.flush()
        record_event(project, "comment.updated", user.id, {
            "issue_id": comment.issue_id, "comment": comment_dict(comment), "changes": {"body": True}})
    db.session.commit()
    return comment


def delete_comment(comment, user):
    project = _require_author_or_maintainer(comment, user)
    _redact_earlier_events(comment)
    record_event(project, "comment.deleted", user.id,
                 {"issue_id": comment.issue_id, "comment": _without_body(comment_dict(comment))})
    db.session.delete(comment)
    db.session.commit()


def _without_body(comment):
    return {name: value for name, value in comment.items() if name != "body"}


def _redact_earlier_events(comment):
    """Take the body out of the event that holds ``comment``'s text (before it changes).

    Only the latest event of a comment holds its text (migration 0002 made it so for the
    events recorded before), and it was recorded in the transaction that last changed the
    comment, just after its ``updated_at``: so it is among the first events from then on,
    read through the ``(project_id, at)`` index (5-8 ms on PostgreSQL with 100,000 events
    after it). Should it not be there, every event since the comment was made is searched,
    which parses each one's JSON (about 1 s for those 100,000). The rewrite commits with
    the comment's next event, which moves the project's content stamp, so no cached feed
    page outlives it."""
    text_events = select(Event.id, Event.data).where(Event.project_id == comment.project_id,
                                                     Event.type.in_(TEXT_EVENTS))
    near = db.session.execute(text_events.where(Event.at >= comment.updated_at)
                              .order_by(Event.at).limit(NEAR)).all()
    holders = [(event_id, data) for event_id, data in near if data["comment"]["id"] == comment.id]
    if not holders:
        holders = db.session.execute(text_events.where(
            Event.at >= comment.created_at, Event.data["comment"]["id"].as_integer() == comment.id)).all()
    for event_id, data in holders:
        redacted = _redacted(data)
        if redacted != data:
            db.session.execute(update(Event).where(Event.id == event_id).values(data=redacted))


def _redacted(data):
    """A comment event's ``data`` without the comment's text: no ``comment.body``, and
    changes as flags (events recorded before redaction had ``[old, new]``)."""
    if "body" not in data["comment"] and not isinstance(data.get("changes", {}).get("body"), list):
        return data
    redacted = {**data, "comment": _without_body(data["comment"]), "redacted": True}
    if "changes" in data:
        redacted["changes"] = {field: True for field in data["changes"]}
    return redacted
