"""Request and response schemas for /api/v1/admin/backups."""
from marshmallow import Schema, fields, validate

from ..schemas import Input, StrictBoolean, Timestamp

STATUSES = ("queued", "running", "verified", "corrupt", "failed")


class BackupInput(Input):
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class RestoreInput(Input):
    confirm = fields.String(required=True, validate=validate.Length(max=64))
    allow_unsigned = StrictBoolean(load_default=False, metadata={
        "description": "Restore even a backup whose manifest is not authenticated (made by another installation "
                       "or an older Beacon, or planted in the repository): only one whose origin you trust."})


class PruneInput(Input):
    dry_run = StrictBoolean(load_default=False)


class BackupOutput(Schema):
    id = fields.String()
    status = fields.String(metadata={"enum": list(STATUSES)})
    created_at = Timestamp()
    completed_at = Timestamp()
    schema_revision = fields.String(allow_none=True)
    engine = fields.String(allow_none=True)
    tables = fields.Dict(keys=fields.String(), values=fields.Integer())
    size_bytes = fields.Integer()
    new_bytes = fields.Integer()
    sha256 = fields.String(allow_none=True)
    encrypted = fields.Boolean()
    note = fields.String(allow_none=True)
    verified_at = Timestamp()
    error = fields.String(allow_none=True)


class JobStarted(Schema):
    job_id = fields.String()
    backup = fields.Nested(BackupOutput)


class PrunePlan(Schema):
    keep = fields.List(fields.String())
    delete = fields.List(fields.String())


class PruneStarted(PrunePlan):
    job_id = fields.String()


class BackupStats(Schema):
    count = fields.Integer()
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    chunks = fields.Integer()
    repository_bytes = fields.Integer()
    newest_verified = fields.String(allow_none=True)
    newest_verified_at = Timestamp()
    newest_verified_age_seconds = fields.Float(allow_none=True)
    last_duration_ms = fields.Integer(allow_none=True)
    encrypted = fields.Boolean()
    locked = fields.Boolean()
