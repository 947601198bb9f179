"""What one socket, and one user, may ask of ``/realtime`` (issue 16).

- ``join``, ``leave`` and ``presence.update``: at most ``REALTIME_RATE_LIMIT_SOCKET`` per
  socket and ``REALTIME_RATE_LIMIT_USER`` per user (all their sockets, every process),
  counted by the API's sliding-window limiter (``ops/limits.py``, in Redis); past either,
  the request is answered ``{"ok": false, "error": "rate limited: ..."}`` and changes
  nothing. ``presence.update`` spam drove a Redis transaction each.
- Replays: the bytes a join's catch-up sends count against ``REALTIME_REPLAY_BYTES_SOCKET``
  and ``REALTIME_REPLAY_BYTES_USER``. A replay stops before the message that would go over
  either, and the join fails saying up to which seq it sent the events, so that the
  client can join again from there once the window has moved: nothing is sent twice.
  (``join`` with ``after_seq`` 0 in a loop replayed up to 20,000 events each time.)
- Connections: at most ``REALTIME_MAX_CONNECTIONS_PER_USER`` open at once per user, on
  all processes together (``presence.open_connection``); past it the connect is refused.

A limit of the empty string is off. When Redis is down, requests are served, as the
API's are; connections are refused, as nothing of presence works then.
"""
from flask import current_app

from ..errors import Problem
from ..ops import limits
from . import presence
from .connections import server_id


class Refused(Exception):
    """A request over a limit; its message is the acknowledgement's error."""


def spend_request(connection):
    """Count one ``join``, ``leave`` or ``presence.update``; raise ``Refused`` past a limit."""
    _spend("REALTIME_RATE_LIMIT_SOCKET", "realtime-socket", connection.sid, "requests per socket", 1)
    _spend("REALTIME_RATE_LIMIT_USER", "realtime-user", connection.user["id"], "requests per user", 1)


def spend_replay(connection, size):
    """Count ``size`` bytes of replay; raise ``Refused`` past a budget (counting nothing)."""
    budgets = [("REALTIME_REPLAY_BYTES_SOCKET", "realtime-replay-socket", connection.sid, "replay bytes per socket"),
               ("REALTIME_REPLAY_BYTES_USER", "realtime-replay-user", connection.user["id"], "replay bytes per user")]
    for budget in budgets:
        _spend(*budget, size, count=False)
    for budget in budgets:
        _spend(*budget, size)


def _spend(setting_name, scope, identity, what, cost, count=True):
    setting = current_app.config[setting_name]
    try:
        (limits.hit if count else limits.check)(setting, scope, str(identity), cost=cost)
    except Problem as problem:
        retry_after = problem.headers.get("Retry-After", "1")
        raise Refused(f"rate limited: at most {setting} {what} ({setting_name}); "
                      f"try again in {retry_after} s") from None


def admit(user_id, sid):
    """Count a new connection of the user; False when the user has too many open already."""
    return presence.open_connection(user_id, sid, server_id(), current_app.config["REALTIME_MAX_CONNECTIONS_PER_USER"])


def release(user_id, sid):
    """Stop counting a connection that closed."""
    presence.close_connection(user_id, sid, server_id())
