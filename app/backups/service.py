"""Backup operations as plain functions: the routes, the CLI and the RQ jobs call these.

Each one audits what it did; making and restoring a backup are announced to admins (on
their sockets and their webhooks), and a restore closes the sockets of the tokens and
users whose access it ended.
"""
from flask import current_app
from sqlalchemy import select

from ..audit import record_audit
from ..errors import conflict, not_found, validation_error
from ..extensions import db
from ..models import Backup
from ..models.base import isoformat, utcnow
from ..pagination import Key, paginate
from ..realtime import broadcast
from ..webhooks.fanout import deliver_admin_event
from . import catalog, retention
from .configured import BackupError, repository, sealer
from .create import create_backup
from .crypto import BackupIntegrityError, UnauthenticatedBackup
from .files import piece_hashes
from .lock import LockBusy, is_held, maintenance
from .reader import load_manifest
from .restore import restore_backup
from .schemas import STATUSES
from .verify import verify_backup


def list_backups(limit, cursor):
    catalog.sync(repository())
    page = paginate(select(Backup), [Key(Backup.id, lambda b: b.id, descending=True)], limit, cursor)
    page["items"] = [catalog.record_dict(b) for b in page["items"]]
    return page


def all_backups():
    catalog.sync(repository())
    rows = db.session.scalars(select(Backup).order_by(Backup.id.desc()))
    return [catalog.record_dict(b) for b in rows]


def get_backup(backup_id):
    row = db.session.get(Backup, backup_id) if len(backup_id) <= 40 else None
    if row is None:
        repo = repository()
        catalog.sync(repo)
        row = db.session.get(Backup, backup_id) if len(backup_id) <= 40 else None
    if row is None:
        raise not_found("backup")
    return row


def run_backup(backup_id=None, note=None, actor_id=None):
    """Make and verify a backup; audit it and tell the admins. Returns the record."""
    try:
        row = create_backup(note, backup_id=backup_id)
    except BackupError:
        db.session.rollback()
        row = db.session.get(Backup, backup_id) if backup_id else None
        if row is not None:
            _finished(catalog.record_dict(row), actor_id)
        raise
    return _finished(catalog.record_dict(row), actor_id)


def _finished(record, actor_id):
    record_audit(actor_id, "backup.create", "backup", record["id"], {"status": record["status"]})
    db.session.commit()
    broadcast.to_admins("backup.finished", record)
    deliver_admin_event("backup.finished", record)
    return record


def run_verify(backup_id, actor_id=None):
    result = verify_backup(backup_id)
    record_audit(actor_id, "backup.verify", "backup", backup_id, {"ok": result["ok"], "error": result.get("error")})
    db.session.commit()
    return result


def run_restore(backup_id, actor_id=None, allow_unsigned=False):
    """Restore a backup (after a safety backup); audit and announce it, and close the
    sockets whose access it ended. ``allow_unsigned``: see ``restore_backup``."""
    restored = restore_backup(backup_id, allow_unsigned=allow_unsigned)
    record = catalog.record_dict(get_backup(backup_id))
    record_audit(actor_id, "backup.restore", "backup", backup_id,
                 {"safety_backup": restored.safety_backup, "allow_unsigned": allow_unsigned})
    db.session.commit()
    _end_sockets(restored.access_ended)  # first: a deactivated admin hears of the restore no more
    broadcast.to_admins("backup.restored", record)
    deliver_admin_event("backup.restored", record)
    return {"restored": backup_id, "safety_backup": restored.safety_backup}


def _end_sockets(ended):
    """Tell every server process which sockets lost their access in the restore."""
    for user_id in sorted(ended.users):
        broadcast.user_deactivated(user_id)
    for token_id, user_id in ended.tokens:
        broadcast.token_revoked(token_id, user_id)
    for user_id in sorted(ended.admins):
        broadcast.admin_changed(user_id)


def prune_plan():
    repo = repository()
    catalog.sync(repo)
    rules = retention.parse_rules(current_app.config["BACKUP_RETENTION"])
    rows = db.session.execute(select(Backup.id, Backup.created_at, Backup.status)).all()
    rows = [r for r in rows if repo.has_manifest(r.id) or r.status in ("queued", "running")]
    return retention.plan([tuple(r) for r in rows], rules)


def run_prune(actor_id=None):
    """Delete what retention does not keep, then the chunks no manifest references."""
    repo = repository()
    with maintenance(repo, "prune"):
        result = prune_plan()
        for backup_id in result["delete"]:
            _forget(repo, backup_id)
        result["chunks_deleted"] = sweep(repo)
    record_audit(actor_id, "backup.prune", "backup", None, result)
    db.session.commit()
    return result


def require_finished(row):
    """A backup still being made can be neither verified nor deleted (409)."""
    if row.status in ("queued", "running"):
        raise conflict("The backup is still being made.")


def delete_backup(backup_id, actor_id):
    row = get_backup(backup_id)
    require_finished(row)
    newest = db.session.scalar(select(Backup.id).where(Backup.status == "verified")
                               .order_by(Backup.id.desc()).limit(1))
    if newest == backup_id:
        raise conflict("The newest verified backup cannot be deleted.")
    repo = repository()
    try:
        with maintenance(repo, "delete"):
            _forget(repo, backup_id)
            sweep(repo)
    except LockBusy as error:
        raise conflict(str(error)) from None
    record_audit(actor_id, "backup.delete", "backup", backup_id)
    db.session.commit()


def _forget(repo, backup_id):
    repo.delete_manifest(backup_id)
    row = db.session.get(Backup, backup_id)
    if row is not None:
        db.session.delete(row)
    db.session.commit()


def sweep(repo):
    """Delete every chunk no manifest references; return how many. Skips if a manifest is unreadable."""
    referenced = set()
    for backup_id in repo.backup_ids():
        manifest, _size = catalog.peek_manifest(repo, backup_id)
        if manifest is None:
            return 0  # cannot tell what it needs: keep everything
        for table in manifest.get("tables", []):
            for chunk in table.get("chunks", []):
                referenced.add(chunk["hash"])
                referenced.add(chunk.get("base"))
        referenced |= piece_hashes(manifest)
    deleted = 0
    for name in repo.all_chunks():
        if name not in referenced:
            repo.delete_chunk(name)
            deleted += 1
    repo.remove_temporaries()
    return deleted


def stats():
    repo = repository()
    catalog.sync(repo)
    rows = db.session.scalars(select(Backup).order_by(Backup.id.desc())).all()
    verified = [r for r in rows if r.status == "verified"]
    completed = [r for r in rows if r.completed_at is not None]
    chunks = repo.all_chunks()
    newest = verified[0] if verified else None
    return {
        "count": len(rows),
        "by_status": {s: sum(1 for r in rows if r.status == s) for s in STATUSES},
        "chunks": len(chunks),
        "repository_bytes": sum(repo.chunk_size(n) for n in chunks) + sum(repo.manifest_path(i).stat().st_size for i in repo.backup_ids()),
        "newest_verified": newest.id if newest else None,
        "newest_verified_at": isoformat(newest.completed_at) if newest else None,
        "newest_verified_age_seconds": (utcnow() - newest.completed_at).total_seconds() if newest else None,
        "last_duration_ms": completed[0].duration_ms if completed else None,
        "encrypted": bool(current_app.config.get("BACKUP_ENCRYPTION_KEY")),
        "locked": is_held(repo),
    }


def require_restorable(row):
    if row.status not in ("verified", "corrupt", "failed") or not repository().has_manifest(row.id):
        raise conflict("The backup is not complete and cannot be restored.")
    require_unlocked()


def require_authenticated(backup_id, allow_unsigned):
    """422 (on ``allow_unsigned``) when nothing authenticates the backup's manifest and the
    admin did not say to restore it anyway. Damage is left to the restore to report."""
    if allow_unsigned:
        return
    try:
        load_manifest(repository(), sealer(), backup_id)
    except UnauthenticatedBackup as error:
        raise validation_error({"allow_unsigned": [f"The backup cannot be trusted: {error}."]}) from None
    except (BackupIntegrityError, BackupError):
        pass  # damaged, or a key that does not parse: the restore job says which


def require_unlocked():
    if is_held(repository()):
        raise conflict("Another restore or prune is running.")

