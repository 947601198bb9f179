"""Request and response schemas for webhooks and their deliveries."""
from marshmallow import Schema, fields, validate

from ..schemas import Input, Pattern, StrictBoolean, Timestamp

EVENT_PATTERN = Pattern(r"^(\*|[a-z_]{1,30}\.(\*|[a-z_]{1,30}))$",
                        error='An event pattern is "*", a type such as "issue.created", or "issue.*".')
STATUSES = ("pending", "succeeded", "failed")


class WebhookInput(Input):
    url = fields.String(required=True, validate=validate.Length(1, 2000))
    events = fields.List(fields.String(validate=EVENT_PATTERN), load_default=None, validate=validate.Length(1, 50))
    active = StrictBoolean(load_default=True)
    description = fields.String(load_default="", validate=validate.Length(max=500))


class WebhookPatch(Input):
    url = fields.String(validate=validate.Length(1, 2000))
    events = fields.List(fields.String(validate=EVENT_PATTERN), validate=validate.Length(1, 50))
    active = StrictBoolean()
    description = fields.String(validate=validate.Length(max=500))


class WebhookOutput(Schema):
    id = fields.Integer()
    project = fields.String(allow_none=True, metadata={"description": "null for an admin webhook"})
    url = fields.String()
    events = fields.List(fields.String())
    active = fields.Boolean()
    description = fields.String()
    created_at = Timestamp()
    version = fields.Integer()
    disabled_reason = fields.String(allow_none=True)


class WebhookWithSecret(WebhookOutput):
    """The answer that creates a webhook or rotates its secret: the only ones with it."""
    secret = fields.String()


class DeliveryOutput(Schema):
    id = fields.Integer()
    webhook_id = fields.Integer()
    event_type = fields.String()
    event_id = fields.Integer(allow_none=True)
    status = fields.String(metadata={"enum": list(STATUSES)})
    attempts = fields.Integer()
    response_status = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    next_attempt_at = Timestamp()
    created_at = Timestamp()
    duration_ms = fields.Integer(allow_none=True)


class AttemptOutput(Schema):
    number = fields.Integer()
    at = Timestamp()
    url = fields.String()
    request_headers = fields.Dict(keys=fields.String(), values=fields.String())
    request_body = fields.String()
    response_status = fields.Integer(allow_none=True)
    response_headers = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True)
    response_body = fields.String(allow_none=True, metadata={"description": "The first 4 KB."})
    error = fields.String(allow_none=True)
    duration_ms = fields.Integer(allow_none=True)


class DeliveryDetail(DeliveryOutput):
    attempt_log = fields.List(fields.Nested(AttemptOutput))
