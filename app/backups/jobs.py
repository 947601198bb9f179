"""What the RQ worker runs: each job takes ids and plain values and pushes its own app context."""
from ..worker import add_schedule, enqueue_job, in_app_context
from . import service
from .create import queue_backup


@in_app_context
def backup_job(backup_id, note=None, actor_id=None):
    return service.run_backup(backup_id, note, actor_id)


@in_app_context
def verify_job(backup_id, actor_id=None):
    return service.run_verify(backup_id, actor_id)


@in_app_context
def restore_job(backup_id, actor_id=None, allow_unsigned=False):
    return service.run_restore(backup_id, actor_id, allow_unsigned)


@in_app_context
def prune_job(actor_id=None):
    return service.run_prune(actor_id)


@in_app_context
def scheduled_backup_job():
    """The schedule's work: a backup (verified as it is made), then a prune."""
    record = service.run_backup(queue_backup("scheduled").id, "scheduled")
    return {"backup": record, "prune": service.run_prune()}


def enqueue(func, *args, job_type):
    return enqueue_job(func, *args, job_type=job_type, job_timeout=6 * 3600)


def register_schedule(app):
    """Schedule backups from ``BACKUP_SCHEDULE`` (a cron string; ``off`` disables)."""
    schedule = (app.config.get("BACKUP_SCHEDULE") or "off").strip()
    if schedule.lower() != "off":
        add_schedule(app, scheduled_backup_job, cron=schedule, name="backups")

