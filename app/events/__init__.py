"""The change feed: recording events and serving them."""
from ..api import Blueprint

bp = Blueprint("events", __name__, url_prefix="/api/v1", description="The change feed")

from . import routes  # noqa: E402,F401
