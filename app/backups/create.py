"""Make a backup: snapshot into the repository, write the manifest, verify it at once."""
import logging
import secrets
import time

from ..extensions import db
from ..models import Backup
from ..models.base import isoformat, utcnow
from .catalog import chunk_bytes
from .configured import BackupError, one_line, repository, sealer
from .files import write_blobs
from .lock import LOCK_WAIT_SECONDS, maintenance
from .reader import PreviousBackup
from .snapshot import ChunkWriter, database_revision, read_transaction, write_tables
from .verify import verify_backup

log = logging.getLogger(__name__)


def new_backup_id(now=None):
    """An id that sorts by time: the second, then the millisecond and a random digit (hex)."""
    while True:
        now = now or utcnow()
        backup_id = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{now.microsecond // 1000:03x}{secrets.token_hex(1)[0]}"
        if db.session.get(Backup, backup_id) is None and not repository().has_manifest(backup_id):
            return backup_id
        now = None


def queue_backup(note=None, job_id=None):
    """Add a queued row to the catalog and return it (the job makes the backup)."""
    row = Backup(id=new_backup_id(), status="queued", note=note, tables={}, job_id=job_id)
    db.session.add(row)
    db.session.commit()
    return row


def create_backup(note=None, *, backup_id=None, lock=None, verify=True):
    """Make a backup (and verify it); return its catalog row. Raises BackupError on failure."""
    repo, seal = repository(), sealer()
    row = db.session.get(Backup, backup_id) if backup_id else None
    if row is None:
        row = Backup(id=backup_id or new_backup_id(), status="queued", note=note, tables={})
        db.session.add(row)
        db.session.commit()
    try:
        with maintenance(repo, "backup", lock, wait=LOCK_WAIT_SECONDS) as held:
            row.status = "running"
            db.session.commit()
            started = time.monotonic()
            manifest = _write_backup(repo, seal, row)
            manifest["duration_ms"] = int((time.monotonic() - started) * 1000)
            data, digest = seal.seal_manifest(manifest)
            repo.write_manifest(row.id, data)
            row.completed_at = utcnow()
            row.duration_ms = manifest["duration_ms"]
            row.size_bytes = chunk_bytes(manifest) + len(data)
            row.new_bytes = manifest["new_chunk_bytes"] + len(data)
            row.sha256, row.schema_revision, row.engine = digest, manifest["schema_revision"], manifest["engine"]
            row.encrypted, row.error = seal.encrypted, None
            row.tables = {t["name"]: t["rows"] for t in manifest["tables"]}
            db.session.commit()
            if verify:
                verify_backup(row.id, lock=held)
    except Exception as error:
        db.session.rollback()
        row = db.session.get(Backup, row.id)
        if row is not None and row.status in ("queued", "running"):
            row.status, row.error = "failed", one_line(error)
            db.session.commit()
        if isinstance(error, BackupError):
            raise
        log.exception("backup %s failed", row.id)
        raise BackupError(f"backup failed: {one_line(error)}") from error
    return db.session.get(Backup, row.id)


def _write_backup(repo, seal, row):
    """Snapshot the database into chunks and return the manifest (not yet written)."""
    repo.begin_writes()
    previous = PreviousBackup.newest(repo, seal)
    writer = ChunkWriter(repo, seal, previous)
    with read_transaction() as connection:
        revision = database_revision(connection)
        engine_name = connection.dialect.name
        tables = write_tables(connection, writer)
        blobs = write_blobs(connection, writer, previous)
    repo.sync_chunks()  # every chunk is on disk before a manifest names it
    return {
        "id": row.id, "created_at": isoformat(row.created_at), "completed_at": isoformat(utcnow()),
        "engine": engine_name, "schema_revision": revision, "encrypted": seal.encrypted,
        "note": row.note, "compression": "zstd", "tables": tables, "blobs": blobs,
        "new_chunk_bytes": writer.new_bytes,
    }
