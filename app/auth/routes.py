"""Routes: sign in (create a token) and sign out (revoke it)."""
from flask import g, request

from ..errors import Problem
from ..extensions import db
from ..models.base import isoformat
from ..realtime import broadcast
from ..users.service import user_dict
from . import bp, throttle
from .schemas import SignInInput, TokenOutput
from .tokens import authenticate, current_user, issue_token, sign_out


@bp.route("/tokens", methods=["POST"])
@bp.arguments(SignInInput)
@bp.response(201, TokenOutput)
def create_token(data):
    """Sign in with e-mail and password; the token is shown this once.

    Limited by `RATE_LIMIT_SIGNIN`: failed attempts per e-mail from one client address, and
    attempts per address (429); failures at an e-mail from everywhere make its sign-ins wait
    a little (at most `SIGNIN_BACKOFF_MAX_SECONDS`), never refuse them."""
    email, address = data["email"].strip().lower(), str(request.remote_addr)
    throttle.before_attempt(email, address)
    user = authenticate(email, data["password"])
    if user is None:
        throttle.failed(email, address)
        raise Problem(401, "The e-mail or password is wrong.", headers={"WWW-Authenticate": "Bearer"})
    plain, row = issue_token(user)
    db.session.commit()
    return {"token": plain, "expires_at": isoformat(row.expires_at), "user": user_dict(user)}, 201


@bp.route("/tokens/current", methods=["DELETE"])
@bp.response(204)
def revoke_token():
    """Sign out: revoke the token of this request."""
    current_user()
    sign_out(g.token)
    db.session.commit()
    broadcast.token_revoked(g.token.id, g.token.user_id)
