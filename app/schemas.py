"""Schema pieces shared by every feature."""
from marshmallow import Schema, fields, pre_load

from .errors import validation_error


class Input(Schema):
    """Base of request schemas: unknown fields are an error, whitespace is trimmed."""

    @pre_load
    def strip_strings(self, data, **_kwargs):
        if not isinstance(data, dict):
            raise validation_error({"_schema": ["The body must be a JSON object."]})
        return {k: v.strip() if isinstance(v, str) and k not in self.keep_whitespace else v for k, v in data.items()}

    keep_whitespace = ("description", "body", "password")


class StrictBoolean(fields.Boolean):
    """JSON true or false only: not 1, "yes" or "true"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def Timestamp():
    """An ISO 8601 UTC timestamp string ending in ``Z`` (services render it)."""
    return fields.String(allow_none=True, metadata={"format": "date-time"})
