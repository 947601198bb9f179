"""Request and response schemas for comments."""
from marshmallow import Schema, fields, validate

from ..schemas import Input, Timestamp

Body = validate.Length(1, 65_536)


class CommentInput(Input):
    body = fields.String(required=True, validate=Body)


class CommentOutput(Schema):
    id = fields.Integer()
    issue_id = fields.Integer()
    author_id = fields.Integer()
    body = fields.String()
    created_at = Timestamp()
    updated_at = Timestamp()
    version = fields.Integer()
