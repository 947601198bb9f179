"""Comments on issues."""
from ..api import Blueprint

bp = Blueprint("comments", __name__, url_prefix="/api/v1", description="Comments")

from . import routes  # noqa: E402,F401
