"""Batches: many operations in one request, run by an RQ worker, exactly once."""
from ..api import Blueprint

bp = Blueprint("batches", __name__, url_prefix="/api/v1", description="Batches of operations")


@bp.record_once
def _schedule_reaper(state):
    from ..worker import add_schedule
    from .jobs import reap_batches

    add_schedule(state.app, reap_batches, interval=state.app.config["BATCH_REAPER_SECONDS"], name="reap_batches")


from . import routes  # noqa: E402,F401
