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


def Timestamp():
    """An ISO 8601 UTC timestamp string ending in ``Z`` (services render it)."""
    return fields.String(allow_none=True, metadata={"format": "date-time"})
