"""The id of the request being served: what ties an audit entry or a log line to a request.

``requests.py`` gives every request one as it starts (the client's ``X-Request-ID`` when
it is usable, else a new one); ``current_request_id`` is the one place the rest of the
code reads it back. Outside a request (an RQ job, a CLI command) there is none.
"""
from flask import g, has_request_context


def current_request_id():
    """The id of the request being served, or None outside one."""
    return g.get("request_id") if has_request_context() else None
