"""Sign-in, tokens, and who may do what."""
from flask_smorest import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign in and out")

from . import routes  # noqa: E402,F401
