"""Schemas for users."""
from marshmallow import Schema, fields, validate

from ..schemas import Input, Timestamp

Password = validate.Length(8, 200)


class UserOutput(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    is_admin = fields.Boolean()
    active = fields.Boolean()
    created_at = Timestamp()


class UserInput(Input):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = fields.String(required=True, validate=validate.Length(1, 100))
    password = fields.String(required=True, validate=Password)
    is_admin = fields.Boolean(load_default=False)
