"""Request and response schemas for projects and members."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..models.projects import ROLES
from ..schemas import Input, Pattern, Timestamp

KEY = Pattern(r"^[A-Z]{2,10}$", error="A key is 2 to 10 uppercase letters.")


class ProjectInput(Input):
    key = fields.String(required=True, validate=KEY)
    name = fields.String(required=True, validate=validate.Length(1, 100))
    description = fields.String(load_default="", validate=validate.Length(max=65_536))


class ProjectPatch(Input):
    name = fields.String(validate=validate.Length(1, 100))
    description = fields.String(validate=validate.Length(max=65_536))


class ProjectOutput(Schema):
    id = fields.Integer()
    key = fields.String()
    name = fields.String()
    description = fields.String()
    role = fields.String(allow_none=True)
    created_at = Timestamp()
    updated_at = Timestamp()
    version = fields.Integer()


class MemberInput(Input):
    role = fields.String(required=True, validate=validate.OneOf(ROLES))


class MemberOutput(Schema):
    user_id = fields.Integer()
    name = fields.String()
    email = fields.String(allow_none=True, metadata={"description": "Only for the member themself and admins."})
    role = fields.String()


class MemberInvite(Input):
    """Whom to add, by something the caller knows of them: an ``email`` today (a ``handle``
    will join it); exactly one is given."""

    IDENTIFIERS = ("email",)

    email = fields.Email(validate=validate.Length(max=254), metadata={
        "description": "The e-mail address of the user to add (any case)."})
    role = fields.String(required=True, validate=validate.OneOf(ROLES))

    @validates_schema
    def one_identifier(self, data, **_kwargs):
        given = [name for name in self.IDENTIFIERS if name in data]
        if len(given) != 1:
            raise ValidationError(f"Give exactly one of: {', '.join(self.IDENTIFIERS)}.", "_schema")


class MemberInviteOutput(Schema):
    """What was asked, and nothing about whether such a user exists."""

    email = fields.String()
    role = fields.String()
