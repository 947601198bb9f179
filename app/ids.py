"""Ids in URLs and headers: plain ASCII digits, bounded to what an INTEGER id column holds.

A bigger number names nothing (404 in a URL) instead of overflowing the database's
integer (a 500 on PostgreSQL).
"""
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1


def plain_int(text, max_value=2**63 - 1):
    """``text`` as a whole number if it is one in plain ASCII digits up to ``max_value``,
    else None: ``"²"`` passes ``isdigit()`` and fails ``int()``, and very long digit
    strings hit Python's limit on converting them."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(max_value)):
        return None
    value = int(text)
    return value if value <= max_value else None


class IdConverter(IntegerConverter):
    """``<int:...>`` in URLs, bounded to ``MAX_ID``."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)  # documented as the parameter's maximum
        super().__init__(url_map, *args, **kwargs)

    def to_python(self, value):
        number = plain_int(value, self.max)  # the rule's \d+ also matches non-ASCII digits
        if number is None:
            # A ValidationError here would make werkzeug answer 405 for the other methods' rules.
            raise NotFound()
        return number
