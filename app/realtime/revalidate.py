"""Re-validate this process's sockets against the database: their tokens, users and rooms.

Sign-out, deactivation, member removal and project deletion reach sockets as pub/sub
messages (``broadcast.py``), and Redis keeps none for a process that misses one: a lost
message left a socket live until its token expired, 30 days later (issue 16). A restore
changes tokens, users and memberships in the database with no message at all. So the
upkeep calls ``revalidate`` on every tick: one query reads the token and user of every
connection of this process, one more the projects and memberships of their rooms. A
socket whose token is revoked, expired or gone, or whose user is inactive, is closed
(``session.ended``, then disconnected); one in a room it may no longer read is taken out
(``access.lost``, or ``room.closed`` when the project is gone), which tells the room it
left. A change made directly in the database is enough. A join re-checks its own
socket first (``session_user``).
"""
from types import SimpleNamespace

from flask import current_app

from ..auth.tokens import sessions
from ..extensions import socketio
from ..models.base import utcnow
from . import connections
from .rooms import readable


def ended(row, user_id, now):
    """Why a socket of ``user_id`` opened with the token of this ``sessions`` row (None:
    the token is gone, e.g. restored away) must close, as ``session.ended`` says it:
    ``"deactivated"``, ``"signed_out"`` or ``"expired"``; None while it may stay."""
    if row is None or row.user_id != user_id:
        return "signed_out"
    if not row.active:
        return "deactivated"
    if row.revoked_at is not None:
        return "signed_out"
    return "expired" if row.expires_at <= now else None


def session_user(connection):
    """The connection's user as the database has it now (``id``, ``is_admin``), or None
    once the socket is being closed because its token or user is no longer valid."""
    row = sessions([connection.token_hash]).get(connection.token_hash)
    reason = ended(row, connection.user["id"], utcnow())
    if reason:
        socketio.server.manager.end_session(connection.sid, reason)
        return None
    return SimpleNamespace(id=row.user_id, is_admin=row.is_admin)


def revalidate():
    """Close the sockets of this process whose token or user is no longer valid, and take
    the others out of the rooms they may no longer read (and in or out of ``admins``)."""
    checked = [c for c in connections.snapshot(current_app._get_current_object()) if not c.ending]
    if not checked:
        return
    # What each was in before reading the database: a stay that began after the read is
    # left to the next tick (its join checked it), so a stale read never takes out a
    # socket that was just given access.
    with connections.LOCK:
        stays = {c.sid: list(c.rooms.items()) for c in checked}
        admins = {c.sid: c.user["is_admin"] for c in checked}
    rows = sessions(c.token_hash for c in checked)
    now, manager = utcnow(), socketio.server.manager
    staying = []
    for connection in checked:
        row = rows.get(connection.token_hash)
        reason = ended(row, connection.user["id"], now)
        if reason:
            manager.end_session(connection.sid, reason)
        else:
            staying.append((connection, row.is_admin))
    checks = [(c, room, joined, is_admin) for c, is_admin in staying for room, joined in stays[c.sid]]
    verdicts = readable([(c.user["id"], is_admin, room, joined.project_key) for c, room, joined, is_admin in checks])
    for connection, is_admin in staying:
        if is_admin != admins[connection.sid] and connection.user["is_admin"] == admins[connection.sid]:
            manager.set_admin(connection.sid, is_admin)
    for (connection, room, joined, _is_admin), verdict in zip(checks, verdicts):
        if verdict and connection.rooms.get(room) is joined:
            manager.take_out(connection.sid, room, verdict)
