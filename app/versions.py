"""Optimistic concurrency over HTTP: every mutable resource has a ``version``, responses
carry it as ``ETag``, and a change sent with a stale ``If-Match`` is refused (412)."""
from flask import request

from .errors import Problem
from .ids import plain_int


def if_match_version():
    """The version named by ``If-Match`` (``"3"``, ``W/"3"`` or ``3``), or None when absent."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    value = plain_int(header.strip().removeprefix("W/").strip('"'))
    if value is None:
        raise Problem(412, "If-Match does not name a version of this resource.")
    return value


def check_version(current, expected):
    """Raise 412 when the client's expected version is stale."""
    if expected is not None and expected != current:
        raise Problem(412, f"The resource is at version {current}, not {expected}; reload it and try again.")


def etag(version):
    return {"ETag": f'"{version}"'}
