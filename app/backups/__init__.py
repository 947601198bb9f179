"""Backups: snapshots into a deduplicated repository, verified by restoring, with retention."""
from ..api import Blueprint

bp = Blueprint("backups", __name__, url_prefix="/api/v1/admin/backups", description="Backups (admins only)")


from . import routes  # noqa: E402,F401
