"""Search across projects, issues and comments."""
from ..api import Blueprint

bp = Blueprint("search", __name__, url_prefix="/api/v1", description="Search")

from . import routes  # noqa: E402,F401
