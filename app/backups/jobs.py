"""What the RQ worker runs: each job takes ids and plain values and pushes its own app context.

A job an admin queued names them (``actor_id``) and runs only while they are still an
active admin: a restore or prune queued by someone deactivated or demoted since then
fails, audited as ``backup.refused``. Jobs of the schedule name nobody and always run.
"""
from ..audit import record_audit
from ..extensions import db
from ..models import Backup, User
from ..worker import add_schedule, enqueue_job, in_app_context
from . import service
from .configured import BackupError
from .create import queue_backup


@in_app_context
def backup_job(backup_id, note=None, actor_id=None):
    require_admin_who_queued(actor_id, "backup.create", backup_id)
    return service.run_backup(backup_id, note, actor_id)


@in_app_context
def verify_job(backup_id, actor_id=None):
    require_admin_who_queued(actor_id, "backup.verify", backup_id)
    return service.run_verify(backup_id, actor_id)


@in_app_context
def restore_job(backup_id, actor_id=None, allow_unsigned=False):
    require_admin_who_queued(actor_id, "backup.restore", backup_id)
    return service.run_restore(backup_id, actor_id, allow_unsigned)


@in_app_context
def prune_job(actor_id=None):
    require_admin_who_queued(actor_id, "backup.prune")
    return service.run_prune(actor_id)


@in_app_context
def scheduled_backup_job():
    """The schedule's work: a backup (verified as it is made), then a prune."""
    record = service.run_backup(queue_backup("scheduled").id, "scheduled")
    return {"backup": record, "prune": service.run_prune()}


def require_admin_who_queued(actor_id, job_type, backup_id=None):
    """Refuse (``BackupError``, audited) a job whose admin is no longer an active admin; a
    backup it was to make is left ``failed``, saying why."""
    if actor_id is None:
        return
    actor = db.session.get(User, actor_id)
    if actor is not None and actor.active and actor.is_admin:
        return
    reason = f"Refused: user {actor_id}, who queued this {job_type} job, is no longer an active administrator."
    row = db.session.get(Backup, backup_id) if backup_id else None
    if row is not None and row.status == "queued":
        row.status, row.error = "failed", reason
    record_audit(actor_id, "backup.refused", "backup", backup_id, {"job": job_type, "reason": reason})
    db.session.commit()
    raise BackupError(reason)


def enqueue(func, *args, job_type):
    return enqueue_job(func, *args, job_type=job_type, job_timeout=6 * 3600)


def register_schedule(app):
    """Schedule backups from ``BACKUP_SCHEDULE`` (a cron string; ``off`` disables)."""
    schedule = (app.config.get("BACKUP_SCHEDULE") or "off").strip()
    if schedule.lower() != "off":
        add_schedule(app, scheduled_backup_job, cron=schedule, name="backups")
