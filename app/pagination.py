"""Keyset pagination: ``?limit=&cursor=`` in, ``{"items", "next_cursor"}`` out.

A cursor is opaque to clients but not signed, so one the server did not issue reaches
here: each of its values must be what its key's column holds (an integer within the
column's range, a storable string, a naive UTC datetime) before it goes into SQL, where
a null, a huge number or a string in place of a datetime was a 500 (or silently wrong
on SQLite). Anything else is a 422 naming ``cursor``.
"""
import base64
import binascii
import json
from datetime import datetime

from marshmallow import Schema, fields, validate
from sqlalchemy import BigInteger, DateTime, Integer, SmallInteger, String, and_, or_

from .errors import is_storable, validation_error
from .extensions import db
from .json_provider import check_depth
from .schemas import Integer as IntegerField

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class PageArgs(Schema):
    limit = IntegerField(minimum=1, maximum=MAX_LIMIT, strict=False, load_default=DEFAULT_LIMIT)
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


def _decode(cursor, keys):
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        check_depth(raw, limit=2)  # a list of values, a datetime a dict in it
        plain = json.loads(raw.decode())
        if not isinstance(plain, list) or len(plain) != len(keys):
            raise ValueError
        return [key.load(value) for key, value in zip(keys, plain, strict=True)]
    except (ValueError, TypeError, binascii.Error):
        raise validation_error({"cursor": ["Not a valid cursor."]}) from None


def _integer_loader(bits):
    def load(value):
        if type(value) is not int or not -2 ** (bits - 1) <= value < 2 ** (bits - 1):
            raise ValueError
        return value
    return load


def _load_string(value):
    if not isinstance(value, str) or not is_storable(value):
        raise ValueError
    return value


def _load_datetime(value):
    if not isinstance(value, dict) or value.keys() != {"dt"} or not isinstance(value["dt"], str):
        raise ValueError
    moment = datetime.fromisoformat(value["dt"])
    if moment.tzinfo is not None:  # the columns hold naive UTC, and so do the cursors issued
        raise ValueError
    return moment


def _loader(sql_type):
    """How a cursor value is checked and read for a key of this SQL type."""
    if isinstance(sql_type, DateTime):
        return _load_datetime
    if isinstance(sql_type, String):
        return _load_string
    if isinstance(sql_type, Integer):  # PostgreSQL refuses a bound value beyond the column's type
        return _integer_loader(64 if isinstance(sql_type, BigInteger) else 16 if isinstance(sql_type, SmallInteger)
                               else 32)
    raise TypeError(f"No cursor rule for a key of type {sql_type!r}")


class Key:
    """One sort key: the SQL expression, how to read it off a row, and its direction."""

    def __init__(self, expression, read, descending=False):
        self.expression = expression
        self.read = read
        self.descending = descending
        self.load = _loader(expression.type)

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


class Page(dict):
    """``{"items", "next_cursor"}``, which can also name the cursor of any item it was
    read with (``cursor_at``): GraphQL's edges carry one each, REST lists only the last.
    Computed on demand, so a REST page costs nothing more; it holds the rows as read, so
    a caller may replace ``items`` with their serialized form."""

    def __init__(self, items, next_cursor, keys):
        super().__init__(items=items, next_cursor=next_cursor)
        self.rows = list(items)
        self.keys = keys

    def cursor_at(self, index):
        return _encode([key.read(self.rows[index]) for key in self.keys])


def paginate(query, keys, limit, cursor, *, rows=False):
    """Run ``query`` one page at a time, ordered by ``keys`` (the last key must be unique).

    ``query`` selects entities, or plain rows with ``rows=True``. Returns a ``Page``.
    """
    if cursor:
        query = query.where(_after(keys, _decode(cursor, keys)))
    query = query.order_by(*(key.order() for key in keys)).limit(limit + 1)
    items = list(db.session.execute(query) if rows else db.session.scalars(query))
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        next_cursor = _encode([key.read(items[-1]) for key in keys])
    return Page(items, next_cursor, keys)
