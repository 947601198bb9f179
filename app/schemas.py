"""Schema pieces shared by every feature, and the one way a response is rendered.

Every integer a request gives is an ``Integer``: bounded to what the database can take
(signed 64 bits at most, an id's INTEGER column with ``Id``), because a bigger one reached
the driver (an OverflowError on PostgreSQL: a 500) instead of being a 422 naming it. Every
pattern is a ``Pattern``, which holds for the whole value.

A response has one definition: its output schema. ``renderer`` generates from the schema
the function that turns a row into the response's dict (``issue_dict``...), so the two
cannot drift apart. Views send that dict as it is (``api.py``) instead of dumping it
through marshmallow again: ``bench/render.py`` measured an issue at 3.1 µs generated,
4.1 µs for the hand-written dict it replaced, and 26 µs once dumped by ``IssueOutput``
(6.4x; 50 of them in each list request).
"""
import re

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from .errors import validation_error
from .ids import MAX_ID
from .models.base import isoformat

INT64_MIN, INT64_MAX = -2**63, 2**63 - 1
_PLAIN_INTEGER = re.compile(r"-?[0-9]{1,19}")


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


class Integer(fields.Integer):
    """A whole number from ``minimum`` to ``maximum`` (both within signed 64 bits).

    ``strict`` (the default, for JSON bodies) takes JSON integers only; query strings pass
    ``strict=False`` and then take plain ASCII digits with an optional minus, not what
    ``int()`` would also read (``"1_000"``, ``" 5"``, ``"٣"``).
    """

    def __init__(self, *, minimum=INT64_MIN, maximum=INT64_MAX, strict=True, **kwargs):
        if not INT64_MIN <= minimum <= maximum <= INT64_MAX:
            raise ValueError(f"Integer bounds {minimum}..{maximum} are not within signed 64 bits")
        super().__init__(strict=strict, validate=validate.Range(minimum, maximum), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and not _PLAIN_INTEGER.fullmatch(value):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class Pattern(validate.Regexp):
    """``validate.Regexp`` over the whole value. Its ``match`` lets ``$`` match before a final
    newline, so ``"WEB\\n"`` passed ``^[A-Z]{2,10}$`` (and an RQ job id so checked reached
    RQ, which refused it: a 500). The pattern is documented as it is written."""

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def Id(**kwargs):
    """The id of a row: 1 to the largest INTEGER (a bigger one names nothing that can exist)."""
    return Integer(minimum=1, maximum=MAX_ID, **kwargs)


class Timestamp(fields.String):
    """An ISO 8601 UTC timestamp string ending in ``Z`` (``renderer`` renders it from a
    stored datetime)."""

    def __init__(self, **kwargs):
        super().__init__(allow_none=True, metadata={"format": "date-time", **kwargs.pop("metadata", {})}, **kwargs)


def renderer(schema, context=(), **computed):
    """Generate ``render(row, *context) -> dict`` holding exactly the fields of the output
    ``schema``, in its order: each field is the row's attribute of that name (a
    ``Timestamp`` rendered by ``isoformat``), or, for a name in ``computed``, what
    ``computed[name](row, *context)`` returns. ``context`` names the extra arguments
    (``("project_key",)``). A computed name the schema lacks is an error at import time.

    The function is generated as source, like ``collections.namedtuple``: a literal dict
    is as fast as a hand-written one, where a loop over the fields took twice as long."""
    declared = schema().fields
    unknown = set(computed) - set(declared)
    if unknown:
        raise TypeError(f"{schema.__name__} has no field {sorted(unknown)}")
    names = ("row", *context)
    if not all(name.isidentifier() for name in (*names, *declared)):
        raise TypeError(f"{schema.__name__}: field and context names must be identifiers")
    arguments = ", ".join(names)
    namespace = {"isoformat": isoformat}
    items = []
    for name, field in declared.items():
        attribute = field.attribute or name
        if name in computed:
            namespace[f"_{name}"] = computed[name]
            items.append(f"{name!r}: _{name}({arguments})")
        elif isinstance(field, Timestamp):
            items.append(f"{name!r}: isoformat(row.{attribute})")
        else:
            items.append(f"{name!r}: row.{attribute}")
    source = f"def render({arguments}):\n    return {{{', '.join(items)}}}\n"
    exec(compile(source, f"<renderer of {schema.__name__}>", "exec"), namespace)  # noqa: S102 (our own field names)
    render = namespace["render"]
    render.__doc__ = f"The response of ``{schema.__name__}`` for ``row`` (generated by ``renderer``)."
    return render
