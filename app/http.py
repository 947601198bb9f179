"""HTTP helpers shared by the routes: ETag and If-Match."""
from flask import request
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from .errors import Problem


def if_match_version():
    """The version named by ``If-Match`` (``"3"``, ``W/"3"`` or ``3``), or None when absent."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    value = plain_int(header.strip().removeprefix("W/").strip('"'))
    if value is None:
        raise Problem(412, "If-Match does not name a version of this resource.")
    return value


def plain_int(text, max_value=2**63 - 1):
    """``text`` as a whole number if it is one in plain ASCII digits up to ``max_value``,
    else None: ``"²"`` passes ``isdigit()`` and fails ``int()``, and very long digit
    strings hit Python's limit on converting them."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(max_value)):
        return None
    value = int(text)
    return value if value <= max_value else None


def check_version(current, expected):
    """Raise 412 when the client's expected version is stale."""
    if expected is not None and expected != current:
        raise Problem(412, f"The resource is at version {current}, not {expected}; reload it and try again.")


def etag(version):
    return {"ETag": f'"{version}"'}


MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<int:...>`` in URLs, bounded to what an INTEGER id column holds: a bigger number
    names nothing (404) instead of overflowing the database's integer (a 500 on PostgreSQL)."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)  # documented as the parameter's maximum
        super().__init__(url_map, *args, **kwargs)

    def to_python(self, value):
        number = plain_int(value, self.max)  # the rule's \d+ also matches non-ASCII digits
        if number is None:
            # A ValidationError here would make werkzeug answer 405 for the other methods' rules.
            raise NotFound()
        return number
