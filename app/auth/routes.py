"""Routes: sign in (create a token) and sign out (revoke it)."""
from flask import g, request

from ..models.base import isoformat
from ..users.service import user_dict
from . import bp
from .schemas import SignInInput, TokenOutput
from .service import sign_in_with_password, sign_out
from .tokens import current_user


@bp.route("/tokens", methods=["POST"])
@bp.arguments(SignInInput)
@bp.response(201, TokenOutput)
def create_token(data):
    """Sign in with e-mail and password; the token is shown this once.

    Limited by `RATE_LIMIT_SIGNIN`: failed attempts per e-mail from one client address, and
    attempts per address (429); failures at an e-mail from everywhere make its sign-ins wait
    a little (at most `SIGNIN_BACKOFF_MAX_SECONDS`), never refuse them."""
    plain, row = sign_in_with_password(data["email"], data["password"], str(request.remote_addr))
    return {"token": plain, "expires_at": isoformat(row.expires_at), "user": user_dict(row.user)}, 201


@bp.route("/tokens/current", methods=["DELETE"])
@bp.response(204)
def revoke_token():
    """Sign out: revoke the token of this request."""
    current_user()
    sign_out(g.token)
