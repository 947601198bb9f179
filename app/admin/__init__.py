"""Administration: users, the audit log, RQ jobs and performance figures (admins only)."""
from ..api import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/api/v1/admin", description="Administration (admins only)")

from . import routes  # noqa: E402,F401
