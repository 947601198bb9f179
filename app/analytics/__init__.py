"""Analytics computed by SQL from the real data (CONTRACT section 10)."""
from ..api import Blueprint

bp = Blueprint("analytics", __name__, url_prefix="/api/v1/analytics", description="Analytics")

from . import routes  # noqa: E402,F401
