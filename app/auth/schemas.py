"""Schemas for sign-in."""
from marshmallow import Schema, fields, validate

from ..schemas import Input, Timestamp
from ..users.schemas import UserOutput


class SignInInput(Input):
    email = fields.String(required=True, validate=validate.Length(1, 254))
    password = fields.String(required=True, validate=validate.Length(1, 200))


class TokenOutput(Schema):
    token = fields.String()
    expires_at = Timestamp()
    user = fields.Nested(UserOutput)
