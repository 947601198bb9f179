"""Notifications: handles and mentions, watchers, the inbox, live delivery and e-mail."""
from ..api import Blueprint

bp = Blueprint("notifications", __name__, url_prefix="/api/v1", description="Notifications and your account")

from . import routes  # noqa: E402,F401
