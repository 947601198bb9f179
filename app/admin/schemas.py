"""Request and response schemas of the admin API."""
from marshmallow import Schema, fields, validate, validates_schema

from ..errors import validation_error
from ..pagination import PageArgs
from ..schemas import Id, Input, Pattern, StrictBoolean, Timestamp
from ..users.schemas import UserInput

JOB_STATUSES = ("queued", "running", "succeeded", "failed")


class AdminUserInput(UserInput):
    is_admin = StrictBoolean(load_default=False)


class UserListArgs(PageArgs):
    active = fields.Boolean()
    is_admin = fields.Boolean()
    q = fields.String(validate=validate.Length(1, 100))


class UserPatch(Input):
    is_admin = StrictBoolean()
    active = StrictBoolean()

    @validates_schema
    def not_empty(self, data, **_kwargs):
        if not data:
            raise validation_error({"_schema": ["Give is_admin, active or both."]})


class AuditListArgs(PageArgs):
    action = fields.String(validate=Pattern(r"^[a-z_]+(\.[a-z_]+)*\.?$", error="Not a valid action."))
    actor_id = Id(strict=False)
    target_type = fields.String(validate=validate.Length(1, 32))
    target_id = fields.String(validate=validate.Length(1, 64))


class AuditOutput(Schema):
    id = fields.Integer()
    at = Timestamp()
    actor_id = fields.Integer(allow_none=True)
    action = fields.String()
    target_type = fields.String(allow_none=True)
    target_id = fields.String(allow_none=True)
    data = fields.Dict()
    request_id = fields.String(allow_none=True)


class JobOutput(Schema):
    id = fields.String()
    type = fields.String(allow_none=True)
    status = fields.String(validate=validate.OneOf(JOB_STATUSES))
    result = fields.Raw(allow_none=True)
    error = fields.String(allow_none=True)
    enqueued_at = Timestamp()
    started_at = Timestamp()
    ended_at = Timestamp()


class QueueOutput(Schema):
    name = fields.String()
    depth = fields.Integer()
    running = fields.Integer()
    failed = fields.Integer()
    succeeded = fields.Integer()
    scheduled = fields.Integer()


class WorkerOutput(Schema):
    name = fields.String()
    state = fields.String()
    queues = fields.List(fields.String())
    current_job_id = fields.String(allow_none=True)
    last_heartbeat = Timestamp()
    successful_jobs = fields.Integer()
    failed_jobs = fields.Integer()


class JobsOutput(Schema):
    queues = fields.List(fields.Nested(QueueOutput))
    workers = fields.List(fields.Nested(WorkerOutput))
    failed_jobs = fields.List(fields.Nested(JobOutput))


class LatencyFigures(Schema):
    count = fields.Integer()
    errors = fields.Integer()
    p50_ms = fields.Float(allow_none=True)
    p95_ms = fields.Float(allow_none=True)
    p99_ms = fields.Float(allow_none=True)


class EndpointFigures(LatencyFigures):
    endpoint = fields.String()
    client_errors = fields.Integer()


class JobFigures(LatencyFigures):
    type = fields.String(allow_none=True)


class SlowRequest(Schema):
    endpoint = fields.String()
    method = fields.String()
    path = fields.String()
    status = fields.Integer()
    duration_ms = fields.Float()
    at = Timestamp()
    request_id = fields.String(allow_none=True)


class PerformanceOutput(Schema):
    slow_request_ms = fields.Float()
    endpoints = fields.List(fields.Nested(EndpointFigures))
    jobs = fields.List(fields.Nested(JobFigures))
    slow_requests = fields.List(fields.Nested(SlowRequest))
