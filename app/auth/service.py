"""Signing out: what a revoked token sets off, in one place a route, a job or GraphQL can call.

The revocation commits first, then the sockets opened with the token are closed on every
server process: a socket is never closed for a revocation that did not happen.
"""
from ..extensions import db
from ..realtime import broadcast
from .tokens import revoke_token


def sign_out(token):
    """Revoke ``token`` (an ``ApiToken``), commit, and close the sockets it opened."""
    revoke_token(token)
    db.session.commit()
    broadcast.token_revoked(token.id, token.user_id)
