"""Projects and their members."""
from flask_smorest import Blueprint

bp = Blueprint("projects", __name__, url_prefix="/api/v1/projects", description="Projects and members")

from . import routes  # noqa: E402,F401
