"""Request and response schemas for batches.

The envelope is one schema. Each operation's own fields (op, resource, lid, id,
if_version) are checked by their fields, and its data by the REST schema of its kind
(``issue.create``, ...), loaded ``many=True`` per kind so that 10,000 operations validate
in one pass. Errors come back keyed ``operations/N/data/title``.
"""
from collections import defaultdict
from functools import lru_cache

from flask import current_app
from marshmallow import Schema, ValidationError, fields, missing, validate, validates_schema

from ..bulk import collector_paused
from ..comments.schemas import Body
from ..errors import Problem
from ..issues.schemas import IssueInput, IssuePatch
from ..projects.schemas import KEY
from ..schemas import Id, Input, Timestamp

LID = validate.Length(1, 100)
OPS = ("create", "update", "delete")
RESOURCES = ("issue", "comment")


class IssueCreateData(IssueInput):
    project = fields.String(required=True, validate=KEY)


class CommentCreateData(Input):
    issue_id = Id()
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


ID = Id()  # an issue id, or a version (both INTEGER columns)

# Per kind of operation: the fields it may have besides op, resource and data, and the
# schema of its data (the REST schemas, so that a batch checks what the REST call checks).
KINDS = {
    ("create", "issue"): ({"lid": fields.String(validate=LID)}, IssueCreateData(many=True)),
    ("create", "comment"): ({"lid": fields.String(validate=LID)}, CommentCreateData(many=True)),
    ("update", "issue"): ({"id": ID, "lid": fields.String(validate=LID), "if_version": ID}, IssuePatchData(many=True)),
    ("delete", "issue"): ({"id": ID, "lid": fields.String(validate=LID)}, None),
}
TARGETED = {("update", "issue"), ("delete", "issue")}  # these name their issue by id or lid


class BatchInput(Input):
    mode = fields.String(required=True, validate=validate.OneOf(("atomic", "best_effort")))
    dry_run = fields.Boolean(load_default=False)
    operations = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1))

    @validates_schema
    def check_operations(self, data, **_kwargs):
        limit = current_app.config["BATCH_MAX_OPERATIONS"]
        if len(data["operations"]) > limit:
            raise Problem(413, f"A batch holds at most {limit} operations.")
        with collector_paused():
            data["operations"] = load_operations(data["operations"])


def _envelope(operation):
    """Check an operation's own fields; return ``(kind, its fields but data, errors)``.

    Each field is loaded by its marshmallow field, and only when present: a plain create
    (op, resource, data) costs nothing here. The data is loaded afterwards, kind by kind,
    ``many=True``: a schema per operation for these few fields doubled the time it took to
    check 10,000 operations.
    """
    if not isinstance(operation, dict):
        return None, None, {"_schema": ["An operation must be a JSON object."]}
    errors = {}
    op, resource = operation.get("op"), operation.get("resource")
    if op not in OPS:
        errors["op"] = [f"Must be one of: {', '.join(OPS)}."]
    if resource not in RESOURCES:
        errors["resource"] = [f"Must be one of: {', '.join(RESOURCES)}."]
    if not errors and (op, resource) not in KINDS:
        errors["resource"] = [f"A {resource} cannot be {op}d in a batch."]
    if errors:
        return None, None, errors
    kind = (op, resource)
    own_fields, data_schema = KINDS[kind]
    loaded = {"op": op, "resource": resource}
    for name, value in operation.items():
        if name in ("op", "resource") or (name == "data" and data_schema is not None):
            continue
        if name not in own_fields:
            errors[name] = ["Unknown field."]
            continue
        try:
            loaded[name] = own_fields[name].deserialize(value.strip() if isinstance(value, str) else value)
        except ValidationError as error:
            errors[name] = error.messages
    if data_schema is not None and not isinstance(operation.get("data"), dict):
        errors["data"] = ["Missing data for required field."] if "data" not in operation else ["Must be a JSON object."]
    if kind in TARGETED and not errors and ("id" in loaded) == ("lid" in loaded):
        errors["id"] = ["Give either id or lid."]
    return kind, loaded, errors


def load_operations(operations):
    """Validate every operation; return them loaded, or raise one error naming them all."""
    errors, groups, loaded = {}, defaultdict(list), [None] * len(operations)
    for index, operation in enumerate(operations):
        kind, loaded[index], problems = _envelope(operation)
        if problems:
            errors[index] = problems
        if kind is not None:
            groups[kind].append(index)
    for kind, indexes in groups.items():
        if KINDS[kind][1] is None:
            continue
        by_keys = defaultdict(list)  # the data of most batches comes in a few shapes
        for i in indexes:
            if isinstance(operations[i].get("data"), dict):
                by_keys[frozenset(operations[i]["data"])].append(i)
        for keys, with_data in by_keys.items():
            schema, defaults = _data_schema(kind, keys)
            try:
                items = schema.load([operations[i]["data"] for i in with_data])
            except ValidationError as error:
                for i, messages in error.messages.items():
                    errors.setdefault(with_data[i], {})["data"] = messages
                continue
            for index, item in zip(with_data, items, strict=True):
                for name, default in defaults:
                    item[name] = default() if callable(default) else default
                loaded[index]["data"] = item
    if not errors:
        _check_lids(loaded, errors)
    if errors:
        raise ValidationError(dict(sorted(errors.items())), "operations")
    return loaded


@lru_cache(maxsize=512)
def _data_schema(kind, keys):
    """The kind's data schema for data with these ``keys``, and the defaults it leaves out.

    It loads the fields given and the required ones, and the defaults of the others are
    filled in afterwards: marshmallow spends as long on a field left out as on one given,
    35 of the 90 ms that 10,000 creates of a title took. A key that is no field stays an
    unknown field. (At most 2 ** fields shapes per kind.)
    """
    schema = KINDS[kind][1]
    only = {name for name, field in schema.fields.items() if name in keys or field.required}
    defaults = [(name, field.load_default) for name, field in schema.fields.items()
                if name not in only and field.load_default is not missing]
    return type(schema)(many=True, only=sorted(only)), defaults


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

