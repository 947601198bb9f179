"""Routes: /api/v1/admin/backups (admins only). Long work is queued and answered with 202."""
from ..auth.tokens import require_admin
from ..errors import validation_error
from ..extensions import db
from ..pagination import PageArgs, page_schema
from . import bp, jobs, service
from .catalog import record_dict
from .create import queue_backup
from .schemas import (BackupInput, BackupOutput, BackupStats, JobStarted, PruneInput, PrunePlan, PruneStarted,
                      RestoreInput)

BackupPage = page_schema(BackupOutput, "BackupPage")


@bp.before_request
def admins_only():
    require_admin()


@bp.route("", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, BackupPage)
def list_backups(args):
    """List backups, newest first."""
    return service.list_backups(args["limit"], args["cursor"])


@bp.route("", methods=["POST"])
@bp.arguments(BackupInput)
@bp.response(202, JobStarted)
def create_backup(data):
    """Queue a backup (it is verified as soon as it is made)."""
    admin = require_admin()
    row = queue_backup(data["note"] or None)
    job = jobs.enqueue(jobs.backup_job, row.id, row.note, admin.id, job_type="backup.create")
    row.job_id = job.id
    db.session.commit()
    return {"job_id": job.id, "backup": record_dict(row)}, 202


@bp.route("/stats", methods=["GET"])
@bp.response(200, BackupStats)
def backup_stats():
    """Repository size, counts by status, and the age of the newest verified backup."""
    return service.stats()


@bp.route("/prune", methods=["POST"])
@bp.arguments(PruneInput)
@bp.response(200, PrunePlan)
@bp.alt_response(202, schema=PruneStarted)
def prune(data):
    """Show the retention plan (``dry_run``) or queue the prune that carries it out."""
    admin = require_admin()
    plan = service.prune_plan()
    if data["dry_run"]:
        return plan
    service.require_unlocked()
    job = jobs.enqueue(jobs.prune_job, admin.id, job_type="backup.prune")
    return {"job_id": job.id, **plan}, 202


@bp.route("/<string:backup_id>", methods=["GET"])
@bp.response(200, BackupOutput)
def get_backup(backup_id):
    return record_dict(service.get_backup(backup_id))


@bp.route("/<string:backup_id>", methods=["DELETE"])
@bp.response(204)
def delete_backup(backup_id):
    """Delete a backup and the chunks only it used (never the newest verified one)."""
    service.delete_backup(backup_id, require_admin().id)


@bp.route("/<string:backup_id>/verify", methods=["POST"])
@bp.response(202, JobStarted)
def verify_backup(backup_id):
    """Queue a verify: the backup is restored into a scratch database and checked."""
    admin = require_admin()
    row = service.get_backup(backup_id)
    service.require_finished(row)
    job = jobs.enqueue(jobs.verify_job, row.id, admin.id, job_type="backup.verify")
    return {"job_id": job.id, "backup": record_dict(row)}, 202


@bp.route("/<string:backup_id>/restore", methods=["POST"])
@bp.arguments(RestoreInput)
@bp.response(202, JobStarted)
def restore_backup(data, backup_id):
    """Queue a restore; ``confirm`` must repeat the backup's id. A backup this installation
    cannot authenticate (another's, or planted) also needs ``allow_unsigned``."""
    admin = require_admin()
    row = service.get_backup(backup_id)
    if data["confirm"] != row.id:
        raise validation_error({"confirm": ["Type the backup's id to confirm the restore."]})
    service.require_restorable(row)
    service.require_authenticated(row.id, data["allow_unsigned"])
    job = jobs.enqueue(jobs.restore_job, row.id, admin.id, data["allow_unsigned"], job_type="backup.restore")
    return {"job_id": job.id, "backup": record_dict(row)}, 202
