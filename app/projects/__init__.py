"""Projects and their members."""
from ..api import Blueprint

bp = Blueprint("projects", __name__, url_prefix="/api/v1/projects", description="Projects and members")

from . import routes  # noqa: E402,F401
