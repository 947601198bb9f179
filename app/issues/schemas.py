"""Request and response schemas for issues."""
from marshmallow import Schema, fields, validate

from ..models.issues import PRIORITIES, STATUSES
from ..pagination import PageArgs
from ..schemas import Id, Input, Timestamp

SORTS = ("created_at", "-created_at", "updated_at", "-updated_at", "priority", "-priority")


class IssueInput(Input):
    title = fields.String(required=True, validate=validate.Length(1, 200))
    description = fields.String(load_default="", validate=validate.Length(max=65_536))
    status = fields.String(load_default="open", validate=validate.OneOf(STATUSES))
    priority = fields.String(load_default="medium", validate=validate.OneOf(PRIORITIES))
    assignee_id = Id(load_default=None, allow_none=True)
    labels = fields.List(fields.String(validate=validate.Length(1, 50)), load_default=list,
                         validate=validate.Length(max=20))


class IssuePatch(Input):
    title = fields.String(validate=validate.Length(1, 200))
    description = fields.String(validate=validate.Length(max=65_536))
    status = fields.String(validate=validate.OneOf(STATUSES))
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    assignee_id = Id(allow_none=True)
    labels = fields.List(fields.String(validate=validate.Length(1, 50)), validate=validate.Length(max=20))


class IssueListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(STATUSES))
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    assignee_id = Id(strict=False)
    label = fields.String(validate=validate.Length(1, 50))
    q = fields.String(validate=validate.Length(1, 200))
    sort = fields.String(load_default="-created_at", validate=validate.OneOf(SORTS))


class IssueOutput(Schema):
    id = fields.Integer()
    key = fields.String()
    number = fields.Integer()
    project = fields.String()
    title = fields.String()
    description = fields.String()
    status = fields.String()
    priority = fields.String()
    assignee_id = fields.Integer(allow_none=True)
    reporter_id = fields.Integer()
    labels = fields.List(fields.String())
    created_at = Timestamp()
    updated_at = Timestamp()
    resolved_at = Timestamp()
    version = fields.Integer()


class IssueRead(IssueOutput):
    """One issue as its reader sees it: with whether they watch it."""

    watching = fields.Boolean()


class IssueListItem(IssueOutput):
    """An issue as lists show it: with its numbers of comments and attachments, which a
    board card shows and one issue (or its events) does not carry."""

    comment_count = fields.Integer()
    attachment_count = fields.Integer()
