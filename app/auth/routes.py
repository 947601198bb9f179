"""Routes: sign in (create a token) and sign out (revoke it)."""
from flask import current_app, g, request

from ..errors import Problem
from ..extensions import db, limiter
from ..models.base import isoformat, utcnow
from ..users.service import user_dict
from . import bp
from .schemas import SignInInput, TokenOutput
from .tokens import authenticate, current_user, issue_token


def _signin_limit(part):
    def limit():
        return current_app.config["RATE_LIMIT_SIGNIN"].split(";")[part]
    return limit


def _email_key():
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    return f"signin-email:{str(email).strip().lower()}"


@bp.route("/tokens", methods=["POST"])
@limiter.limit(_signin_limit(0), key_func=_email_key, deduct_when=lambda response: response.status_code == 401)
@limiter.limit(_signin_limit(1))
@bp.arguments(SignInInput)
@bp.response(201, TokenOutput)
def create_token(data):
    """Sign in with e-mail and password; the token is shown this once."""
    user = authenticate(data["email"], data["password"])
    if user is None:
        raise Problem(401, "The e-mail or password is wrong.", headers={"WWW-Authenticate": "Bearer"})
    plain, row = issue_token(user)
    db.session.commit()
    return {"token": plain, "expires_at": isoformat(row.expires_at), "user": user_dict(user)}, 201


@bp.route("/tokens/current", methods=["DELETE"])
@bp.response(204)
def revoke_token():
    """Sign out: revoke the token of this request."""
    current_user()
    g.token.revoked_at = utcnow()
    db.session.commit()
    from ..realtime import broadcast

    broadcast.token_revoked(g.token.id, g.token.user_id)
