"""Routes: sign in (create a token) and sign out (revoke it)."""
from flask import current_app, g, request

from ..errors import Problem
from ..extensions import db
from ..models.base import isoformat
from ..ops import limits
from ..users.service import user_dict
from . import bp
from .schemas import SignInInput, TokenOutput
from .tokens import authenticate, current_user, issue_token, sign_out


def _signin_limits():
    """``(failed sign-ins per e-mail, attempts per client address)`` of ``RATE_LIMIT_SIGNIN``."""
    per_email, _, per_address = current_app.config["RATE_LIMIT_SIGNIN"].partition(";")
    return per_email, per_address


@bp.route("/tokens", methods=["POST"])
@bp.arguments(SignInInput)
@bp.response(201, TokenOutput)
def create_token(data):
    """Sign in with e-mail and password; the token is shown this once."""
    per_email, per_address = _signin_limits()
    email = data["email"].strip().lower()
    limits.hit(per_address, "signin-address", str(request.remote_addr))
    limits.check(per_email, "signin-email", email)
    user = authenticate(email, data["password"])
    if user is None:
        limits.hit(per_email, "signin-email", email)  # only failures use up an e-mail's budget
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
    from ..realtime import broadcast

    broadcast.token_revoked(g.token.id, g.token.user_id)
