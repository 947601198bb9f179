"""Issues."""
from ..api import Blueprint

bp = Blueprint("issues", __name__, url_prefix="/api/v1", description="Issues")

from . import routes  # noqa: E402,F401
