"""Request and response schemas for notifications and the caller's own account."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..models.users import EMAIL_NOTIFICATIONS
from ..pagination import PageArgs
from ..schemas import Id, Input, Pattern, StrictBoolean, Timestamp
from ..users.handles import HANDLE

MAX_READ_IDS = 1000


class NotificationOutput(Schema):
    id = fields.Integer()
    type = fields.String()
    issue_id = fields.Integer()
    issue_key = fields.String()
    project = fields.String()
    actor_id = fields.Integer(allow_none=True)
    event_id = fields.Integer()
    at = Timestamp()
    read_at = Timestamp()


class NotificationListArgs(PageArgs):
    unread = fields.Boolean(load_default=False, truthy={"true"}, falsy={"false"})


class UnreadCount(Schema):
    count = fields.Integer()


class MarkReadInput(Input):
    """``{"ids": [...]}`` or ``{"all": true}``."""

    ids = fields.List(Id(), validate=validate.Length(1, MAX_READ_IDS))
    all = StrictBoolean()

    @validates_schema
    def one_of(self, data, **_kwargs):
        if ("ids" in data) == bool(data.get("all")):
            raise ValidationError('Give either "ids" or "all": true.', "_schema")


class HandleArgs(Schema):
    q = fields.String(load_default="", validate=validate.Length(max=100))
    limit = fields.Integer(load_default=10, validate=validate.Range(1, 50))


class Mentionable(Schema):
    user_id = fields.Integer()
    name = fields.String()
    handle = fields.String()


class HandleList(Schema):
    items = fields.List(fields.Nested(Mentionable))


class MeOutput(Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String()
    handle = fields.String()
    is_admin = fields.Boolean()
    email_notifications = fields.String()


class LowerCaseHandle(fields.String):
    """A handle as stored: lower-cased (handles are unique regardless of case)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).lower()


class MePatch(Input):
    handle = LowerCaseHandle(validate=Pattern(HANDLE.pattern, error="2-32 of a-z, 0-9, _ and -."))
    name = fields.String(validate=validate.Length(1, 100))
    email_notifications = fields.String(validate=validate.OneOf(EMAIL_NOTIFICATIONS))
