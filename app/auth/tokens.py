"""API tokens: 32 random bytes handed out once, stored as a SHA-256 hash."""
import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app, g, request
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import contains_eager

from ..errors import Problem
from ..extensions import db
from ..models import ApiToken, User
from ..models.base import utcnow
from . import access_changes
from .passwords import DUMMY_HASH, check_password


def hash_token(token):
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(email, password):
    """Return the active user with these credentials, or None."""
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        check_password(DUMMY_HASH, password)
        return None
    if not check_password(user.password_hash, password) or not user.active:
        return None
    return user


def issue_token(user):
    """Create a token for ``user``; return ``(plain_token, ApiToken)``."""
    plain = secrets.token_urlsafe(32)
    ttl = timedelta(hours=current_app.config["TOKEN_TTL_HOURS"])
    row = ApiToken(user_id=user.id, token_hash=hash_token(plain), expires_at=utcnow() + ttl)
    db.session.add(row)
    return plain, row


# Built once: a statement object made per request costs more than the query it runs.
TOKEN_QUERY = (select(ApiToken).join(ApiToken.user).options(contains_eager(ApiToken.user))
               .where(ApiToken.token_hash == bindparam("token_hash")))


def token_params(plain):
    """The parameters of ``TOKEN_QUERY`` for a plain token; None when it is malformed."""
    if not isinstance(plain, str) or not plain or len(plain) > 256:
        return None
    return {"token_hash": hash_token(plain)}


def is_live(row, plain):
    """True when ``row`` is the unrevoked, unexpired token of an active user for ``plain``."""
    return row is not None and is_live_token(row.token_hash, row.revoked_at, row.expires_at, row.user.active, plain)


def is_live_token(token_hash, revoked_at, expires_at, user_active, plain):
    """``is_live`` on the token's columns, for callers that read them without the ORM."""
    if not hmac.compare_digest(token_hash, hash_token(plain)):
        return False
    return revoked_at is None and expires_at > utcnow() and user_active


def resolve_token(plain):
    """Return the live ``ApiToken`` for a plain token, or None."""
    params = token_params(plain)
    row = None if params is None else db.session.scalar(TOKEN_QUERY, params)
    return row if is_live(row, plain) else None


def revoke_token(token):
    """Revoke one token, and remember it where a restore does not reach (``auth.service.sign_out``
    commits and closes its sockets)."""
    token.revoked_at = utcnow()
    access_changes.record(access_changes.TOKEN_REVOKED, token.user_id, at=token.revoked_at,
                          token_hash=token.token_hash)


# The hashes go into the SQL as literals (hex digests we made): 2,000 of them as bound
# parameters took psycopg 40 ms a query, as literals 10 ms (SQLite: 12 and 11 ms).
SESSIONS_QUERY = (select(ApiToken.token_hash, ApiToken.user_id, ApiToken.revoked_at, ApiToken.expires_at, User.active,
                         User.is_admin).join(User, User.id == ApiToken.user_id)
                  .where(ApiToken.token_hash.in_(bindparam("hashes", expanding=True, literal_execute=True))))


def sessions(token_hashes):
    """``{token_hash: row}`` for the tokens of these hashes that exist, each row with
    ``user_id``, ``revoked_at``, ``expires_at``, ``active`` and ``is_admin`` (its user's):
    what open sockets are re-checked against, in one query for all of a process's sockets."""
    hashes = sorted(set(token_hashes))
    return {row.token_hash: row for row in db.session.execute(SESSIONS_QUERY, {"hashes": hashes})} if hashes else {}


def revoke_user_tokens(user_id):
    """Revoke every live token of a user (deactivation), and remember it where a restore
    does not reach."""
    now = utcnow()
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    access_changes.record(access_changes.TOKENS_REVOKED, user_id, at=now)


def bearer_token():
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def current_user():
    """Return the signed-in user, or raise 401."""
    if "user" not in g:
        sign_in(resolve_token(bearer_token()))
    return g.user


def unauthorized():
    return Problem(401, "A valid bearer token is required.", headers={"WWW-Authenticate": "Bearer"})


def sign_in(token):
    """Make ``token``'s user the caller of this request; raise 401 when there is none."""
    if token is None:
        raise unauthorized()
    g.token = token
    g.user = token.user
    g.user_id = token.user_id


def require_admin():
    user = current_user()
    if not user.is_admin:
        raise Problem(403, "Only administrators may do this.")
    return user
