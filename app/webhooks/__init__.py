"""Webhooks: Beacon posts what happened, signed, to URLs that projects and admins choose."""
from ..api import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/api/v1", description="Webhooks")

from . import routes  # noqa: E402,F401
