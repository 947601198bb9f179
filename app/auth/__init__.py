"""Sign-in, tokens, and who may do what."""
from flask import g

from ..api import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign in and out")

from . import routes  # noqa: E402,F401


@bp.before_app_request
def forget_previous_caller():
    # g lives as long as the app context, which can outlive one request.
    g.pop("user", None)
    g.pop("token", None)
    g.pop("user_id", None)
