"""Schemas for users."""
from marshmallow import Schema, fields, validate

from ..schemas import Input, Timestamp

Password = validate.Length(8, 200)


class UserOutput(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    handle = fields.String()
    is_admin = fields.Boolean()
    active = fields.Boolean()
    created_at = Timestamp()


class LowerCaseEmail(fields.Email):
    """An e-mail in lower case, as it is stored (unique regardless of case), checked as such:
    lower-casing can lengthen it ("İ" becomes two characters), and an e-mail within 254
    characters as sent but not as stored was a 500 on PostgreSQL."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).lower()


class UserInput(Input):
    email = LowerCaseEmail(required=True, validate=validate.Length(max=254))
    name = fields.String(required=True, validate=validate.Length(1, 100))
    password = fields.String(required=True, validate=Password)
    is_admin = fields.Boolean(load_default=False)
