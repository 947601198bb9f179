"""Changes of access that a restore must not undo: sign-outs, token revocations,
deactivations and reactivations, admin rights taken and given.

A restore replaces users and tokens with the backup's. Left at that, it would bring back
every token signed out and every user deactivated since the backup. So each change of
access is also written to ``access_changes``, a table a restore keeps (as it keeps the
audit log), and the restore re-applies the ones made since its backup, inside its own
transaction (``reapply``). For ``active`` and ``is_admin`` the latest change of each
user wins, so a user reactivated after a deactivation stays active; a revoked token
stays revoked. Re-applying a change the backup already holds changes nothing, so
starting a little before the backup is safe.
"""
from typing import NamedTuple

from sqlalchemy import bindparam, select, update

from ..extensions import db
from ..models import AccessChange, ApiToken, User
from ..models.base import utcnow

TOKEN_REVOKED = "token_revoked"  # one token (sign-out), by its hash
TOKENS_REVOKED = "tokens_revoked"  # every token the user had then
FLAG_CHANGES = {"deactivated": ("active", False), "activated": ("active", True),
                "admin_revoked": ("is_admin", False), "admin_granted": ("is_admin", True)}
CHANGE_OF_FLAG = {flag: change for change, flag in FLAG_CHANGES.items()}


def record(change, user_id, *, at=None, token_hash=None):
    """Remember a change of access, in the caller's transaction."""
    db.session.add(AccessChange(change=change, user_id=user_id, at=at or utcnow(), token_hash=token_hash))


def record_flag(user_id, field, value):
    """Remember that a user's ``active`` or ``is_admin`` became ``value``."""
    record(CHANGE_OF_FLAG[(field, value)], user_id)


class Reapplied(NamedTuple):
    """Users whose ``active`` or ``is_admin`` a restore set back to its latest change."""
    deactivated: set
    admin_changed: set


def reapply(connection, since, grants=True):
    """Re-apply to the restored users and tokens the changes made at or after ``since``
    (all of them when None), on ``connection``, in the restore's transaction. Without
    ``grants``, only what takes access away."""
    table = AccessChange.__table__
    query = select(table.c.change, table.c.user_id, table.c.token_hash, table.c.at).order_by(table.c.id)
    if since is not None:
        query = query.where(table.c.at >= since)
    one_token, all_tokens, flags = [], [], {}
    for change, user_id, token_hash, at in connection.execute(query):
        if change == TOKEN_REVOKED:
            one_token.append({"hash": token_hash, "at": at})
        elif change == TOKENS_REVOKED:
            all_tokens.append({"user": user_id, "at": at})
        elif grants or not FLAG_CHANGES[change][1]:
            flags[FLAG_CHANGES[change][0], user_id] = FLAG_CHANGES[change][1]
    tokens, users = ApiToken.__table__, User.__table__
    if one_token:
        connection.execute(update(tokens).where(tokens.c.token_hash == bindparam("hash"), tokens.c.revoked_at.is_(None))
                           .values(revoked_at=bindparam("at")), one_token)
    if all_tokens:  # only the tokens the user had at that moment, not those of a later sign-in
        connection.execute(update(tokens).where(tokens.c.user_id == bindparam("user"), tokens.c.revoked_at.is_(None),
                                                tokens.c.created_at <= bindparam("at"))
                           .values(revoked_at=bindparam("at")), all_tokens)
    for field in ("active", "is_admin"):
        values = [{"user": user_id, "value": value} for (name, user_id), value in flags.items() if name == field]
        if values:
            column = users.c[field]
            connection.execute(update(users).where(users.c.id == bindparam("user"), column != bindparam("value"))
                               .values({field: bindparam("value"), "version": users.c.version + 1}), values)
    return Reapplied(deactivated={user for (name, user), value in flags.items() if name == "active" and not value},
                     admin_changed={user for name, user in flags if name == "is_admin"})


def live_tokens(connection):
    """``{(token id, token hash): (user id, is_admin)}`` of every live token: unrevoked,
    unexpired, of an active user."""
    tokens, users = ApiToken.__table__, User.__table__
    rows = connection.execute(
        select(tokens.c.id, tokens.c.token_hash, tokens.c.user_id, users.c.is_admin)
        .join(users, users.c.id == tokens.c.user_id)
        .where(tokens.c.revoked_at.is_(None), tokens.c.expires_at > utcnow(), users.c.active.is_(True)))
    return {(token_id, token_hash): (user_id, is_admin) for token_id, token_hash, user_id, is_admin in rows}


class AccessEnded(NamedTuple):
    """What open sockets must be told after a restore: ``tokens`` ((token id, user id) of
    tokens no longer live), ``users`` (deactivated: every socket closes), ``admins``
    (users whose admin rights changed)."""
    tokens: list
    users: set
    admins: set


def ended_by_restore(before, restored, after, reapplied):
    """What the sockets must be told after a restore, from the live tokens before it, in
    the backup as loaded, and after the re-applied changes: a token live in either of the
    first two and not after has its sockets closed (the second covers a revocation whose
    message to the sockets was lost); a deactivated user has all of them closed."""
    users = set(reapplied.deactivated)
    owners = {**restored, **before}
    tokens = sorted({(key[0], owners[key][0]) for key in owners.keys() - after.keys()})
    admin_before, admin_after = dict(before.values()), dict(after.values())
    admins = {user_id for user_id, is_admin in admin_after.items() if admin_before.get(user_id, is_admin) != is_admin}
    return AccessEnded([(token_id, user_id) for token_id, user_id in tokens if user_id not in users], users,
                       (admins | reapplied.admin_changed) - users)
