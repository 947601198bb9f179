"""Signing in and out, in one place a route, a page or GraphQL can call.

Signing in is rate-limited (``throttle``) before the password is checked. Signing out
commits the revocation first, then closes the sockets opened with the token on every
server process: a socket is never closed for a revocation that did not happen.
"""
from ..errors import Problem
from ..extensions import db
from ..realtime import broadcast
from . import throttle
from .tokens import authenticate, issue_token, revoke_token


def sign_in_with_password(email, password, address):
    """Check ``email`` and ``password`` for a sign-in from client ``address``; return
    ``(plain token, ApiToken)``, committed. 401 for a wrong e-mail or password or an
    inactive user (the message does not say which); 429 past ``RATE_LIMIT_SIGNIN``."""
    email = email.strip().lower()
    throttle.before_attempt(email, address)
    user = authenticate(email, password)
    if user is None:
        throttle.failed(email, address)
        raise Problem(401, "The e-mail or password is wrong.", headers={"WWW-Authenticate": "Bearer"})
    plain, row = issue_token(user)
    db.session.commit()
    return plain, row


def sign_out(token):
    """Revoke ``token`` (an ``ApiToken``), commit, and close the sockets it opened."""
    revoke_token(token)
    db.session.commit()
    broadcast.token_revoked(token.id, token.user_id)
