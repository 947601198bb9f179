"""Keyset pagination: ``?limit=&cursor=`` in, ``{"items", "next_cursor"}`` out."""
import base64
import binascii
import json
from datetime import datetime

from marshmallow import Schema, fields, validate
from sqlalchemy import and_, or_

from .errors import validation_error
from .extensions import db

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class PageArgs(Schema):
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT))
    cursor = fields.String(load_default=None, validate=validate.Length(max=1000))


def page_schema(item_schema, name):
    """Return the response schema ``{"items": [item], "next_cursor"}`` for an item schema."""
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(item_schema)), "next_cursor": fields.String(allow_none=True)},
        name=name,
    )


def _encode(values):
    plain = [{"dt": v.isoformat()} if isinstance(v, datetime) else v for v in values]
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor, count):
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        plain = json.loads(raw)
        if not isinstance(plain, list) or len(plain) != count:
            raise ValueError
        return [datetime.fromisoformat(v["dt"]) if isinstance(v, dict) else v for v in plain]
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
        raise validation_error({"cursor": ["Not a valid cursor."]}) from None


class Key:
    """One sort key: the SQL expression, how to read it off a row, and its direction."""

    def __init__(self, expression, read, descending=False):
        self.expression = expression
        self.read = read
        self.descending = descending

    def order(self):
        return self.expression.desc() if self.descending else self.expression.asc()

    def after(self, value):
        return self.expression < value if self.descending else self.expression > value


def _after(keys, values):
    """Rows strictly after ``values`` in the order given by ``keys``."""
    clauses = []
    for i, key in enumerate(keys):
        equal = [keys[j].expression == values[j] for j in range(i)]
        clauses.append(and_(*equal, key.after(values[i])))
    return or_(*clauses)


def paginate(query, keys, limit, cursor, *, rows=False):
    """Run ``query`` one page at a time, ordered by ``keys`` (the last key must be unique).

    ``query`` selects entities, or plain rows with ``rows=True``.
    """
    if cursor:
        query = query.where(_after(keys, _decode(cursor, len(keys))))
    query = query.order_by(*(key.order() for key in keys)).limit(limit + 1)
    items = list(db.session.execute(query) if rows else db.session.scalars(query))
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        next_cursor = _encode([key.read(items[-1]) for key in keys])
    return {"items": items, "next_cursor": next_cursor}
