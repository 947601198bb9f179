"""Request and response schemas for batches.

The envelope is one schema; each operation is then checked by the schema of its kind
(``issue.create``, ...), loaded ``many=True`` per kind so that 10,000 operations validate
in one pass, and errors come back keyed ``operations/N/data/title``.
"""
from collections import defaultdict

from flask import current_app
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..comments.schemas import Body
from ..errors import Problem
from ..issues.schemas import IssueInput, IssuePatch
from ..projects.schemas import KEY
from ..schemas import Input, Timestamp

LID = validate.Length(1, 100)
OPS = ("create", "update", "delete")
RESOURCES = ("issue", "comment")


class IssueCreateData(IssueInput):
    project = fields.String(required=True, validate=KEY)


class CommentCreateData(Input):
    issue_id = fields.Integer(strict=True, validate=validate.Range(min=1))
    issue_lid = fields.String(validate=LID)
    body = fields.String(required=True, validate=Body)

    @validates_schema
    def one_issue(self, data, **_kwargs):
        if ("issue_id" in data) == ("issue_lid" in data):
            raise ValidationError("Give either issue_id or issue_lid.", "issue_id")


class IssuePatchData(IssuePatch):
    @validates_schema
    def not_empty(self, data, **_kwargs):
        if not data:
            raise ValidationError("Give at least one field to change.", "_schema")


class Operation(Input):
    op = fields.String(required=True, validate=validate.OneOf(OPS))
    resource = fields.String(required=True, validate=validate.OneOf(RESOURCES))


class IssueCreateOperation(Operation):
    lid = fields.String(validate=LID)
    data = fields.Nested(IssueCreateData, required=True)


class CommentCreateOperation(Operation):
    lid = fields.String(validate=LID)
    data = fields.Nested(CommentCreateData, required=True)


class IssueDeleteOperation(Operation):
    """An operation on an existing issue: its ``id``, or the ``lid`` of one created earlier."""

    id = fields.Integer(strict=True, validate=validate.Range(min=1))
    lid = fields.String(validate=LID)

    @validates_schema
    def one_target(self, data, **_kwargs):
        if ("id" in data) == ("lid" in data):
            raise ValidationError("Give either id or lid.", "id")


class IssueUpdateOperation(IssueDeleteOperation):
    data = fields.Nested(IssuePatchData, required=True)
    if_version = fields.Integer(strict=True, validate=validate.Range(min=1))


KINDS = {
    ("create", "issue"): IssueCreateOperation(many=True),
    ("create", "comment"): CommentCreateOperation(many=True),
    ("update", "issue"): IssueUpdateOperation(many=True),
    ("delete", "issue"): IssueDeleteOperation(many=True),
}


class BatchInput(Input):
    mode = fields.String(required=True, validate=validate.OneOf(("atomic", "best_effort")))
    dry_run = fields.Boolean(load_default=False)
    operations = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1))

    @validates_schema
    def check_operations(self, data, **_kwargs):
        limit = current_app.config["BATCH_MAX_OPERATIONS"]
        if len(data["operations"]) > limit:
            raise Problem(413, f"A batch holds at most {limit} operations.")
        data["operations"] = load_operations(data["operations"])


def _kind(index, operation, errors):
    if not isinstance(operation, dict):
        errors[index] = {"_schema": ["An operation must be a JSON object."]}
        return None
    head = {}
    op, resource = operation.get("op"), operation.get("resource")
    if op not in OPS:
        head["op"] = [f"Must be one of: {', '.join(OPS)}."]
    if resource not in RESOURCES:
        head["resource"] = [f"Must be one of: {', '.join(RESOURCES)}."]
    if not head and (op, resource) not in KINDS:
        head["resource"] = [f"A {resource} cannot be {op}d in a batch."]
    if "data" in operation and not isinstance(operation["data"], dict):
        head["data"] = ["Must be a JSON object."]
    if head:
        errors[index] = head
        return None
    return op, resource


def load_operations(operations):
    """Validate every operation; return them loaded, or raise one error naming them all."""
    errors, groups = {}, defaultdict(list)
    for index, operation in enumerate(operations):
        kind = _kind(index, operation, errors)
        if kind:
            groups[kind].append(index)
    loaded = [None] * len(operations)
    for kind, indexes in groups.items():
        try:
            items = KINDS[kind].load([operations[i] for i in indexes])
        except ValidationError as error:
            errors.update({indexes[i]: messages for i, messages in error.messages.items()})
            continue
        for index, item in zip(indexes, items, strict=True):
            loaded[index] = item
    if not errors:
        _check_lids(loaded, errors)
    if errors:
        raise ValidationError(dict(sorted(errors.items())), "operations")
    return loaded


def _check_lids(operations, errors):
    """A lid is defined once, by a create, before any operation that refers to it."""
    defined = {}
    for index, operation in enumerate(operations):
        ref = operation["data"].get("issue_lid") if operation["resource"] == "comment" else (
            operation.get("lid") if operation["op"] != "create" else None)
        if ref is not None:
            if defined.get(ref) != "issue":
                where = {"data": {"issue_lid": [f"No earlier operation creates an issue with lid {ref!r}."]}} \
                    if operation["op"] == "create" else {"lid": [f"No earlier operation creates lid {ref!r}."]}
                errors[index] = where
        if operation["op"] == "create" and operation.get("lid") is not None:
            if operation["lid"] in defined:
                errors[index] = {"lid": [f"The lid {operation['lid']!r} is already used by an earlier operation."]}
            defined[operation["lid"]] = operation["resource"]


class BatchOutput(Schema):
    id = fields.Integer()
    mode = fields.String()
    dry_run = fields.Boolean()
    status = fields.String()
    total = fields.Integer()
    done = fields.Integer()
    succeeded = fields.Integer()
    failed = fields.Integer()
    created_at = Timestamp()
    started_at = Timestamp()
    finished_at = Timestamp()
    duration_ms = fields.Integer(allow_none=True)


class BatchAccepted(Schema):
    id = fields.Integer()
    status = fields.String()
    total = fields.Integer()
    url = fields.String()


class ResultOutput(Schema):
    index = fields.Integer()
    status = fields.String()
    id = fields.Integer()
    error = fields.String()

