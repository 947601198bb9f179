"""Backups: snapshots into a deduplicated repository, verified by restoring, with retention."""
from ..api import Blueprint

bp = Blueprint("backups", __name__, url_prefix="/api/v1/admin/backups", description="Backups (admins only)")


def init_app(app):
    """Add the ``flask backup`` commands and the backup schedule."""
    from .cli import backup_cli
    from .jobs import register_schedule

    app.cli.add_command(backup_cli)
    register_schedule(app)


from . import routes  # noqa: E402,F401
