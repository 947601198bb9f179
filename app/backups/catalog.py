"""The ``backups`` table: a mirror of the repository's manifests, for the API and /metrics.

The repository is the truth. Rows missing from the table (an empty or new database) are
rebuilt from the manifests and their verify outcomes; with no database at all, records
are read from the repository alone. A verify outcome is believed only for a manifest that
checks out (authenticated, intact): anyone who can write the repository can write an
outcome too, and a planted backup must never count as verified.
"""
import json
from datetime import datetime

from sqlalchemy import select

from ..extensions import db
from ..models import Backup
from ..models.base import isoformat, utcnow
from ..schemas import renderer
from .configured import BackupError, sealer
from .crypto import BackupIntegrityError
from .lock import is_held
from .reader import load_manifest
from .repository import RepositoryError
from .schemas import BackupOutput

INTERRUPTED = "the process making this backup stopped before it finished"
UNVERIFIED = "never verified (the process stopped before verifying it); verify it before relying on it"


# ``record_dict(row)``: the contract's backup record.
record_dict = renderer(BackupOutput, tables=lambda row: row.tables or {}, encrypted=lambda row: bool(row.encrypted))


def chunk_bytes(manifest):
    """What a backup's chunks occupy: each distinct chunk once, delta bases and attachment files included."""
    sizes = {piece["hash"]: piece["bytes"] for entry in manifest.get("blobs", [])
             for piece in entry.get("pieces", []) + entry.get("thumbnail", [])}
    for table in manifest.get("tables", []):
        for chunk in table.get("chunks", []):
            sizes[chunk["hash"]] = chunk["bytes"]
            if "base" in chunk:
                sizes[chunk["base"]] = chunk["base_bytes"]
    return sum(sizes.values())


def _parse_time(value):
    return datetime.fromisoformat(value.rstrip("Z")) if value else None


def peek_manifest(repository, backup_id):
    """The manifest's content and file size, unchecked (listing only; use reader to trust it)."""
    data = repository.read_manifest(backup_id)
    try:
        return json.loads(data)["manifest"], len(data)
    except (ValueError, KeyError, TypeError):
        return None, len(data)


def row_from_repository(repository, backup_id):
    """Build a catalog row from a manifest and its latest verify outcome."""
    manifest, manifest_bytes = peek_manifest(repository, backup_id)
    state = repository.read_state(backup_id)
    if manifest is None:
        return Backup(id=backup_id, status="corrupt", error="the manifest cannot be read", tables={})
    try:
        load_manifest(repository, sealer(), backup_id)
    except (BackupIntegrityError, BackupError) as error:
        state = {"status": "corrupt", "error": str(error)[:2000]}
    status = state.get("status") or "failed"
    return Backup(
        id=backup_id, status=status, created_at=_parse_time(manifest.get("created_at")) or utcnow(),
        completed_at=_parse_time(manifest.get("completed_at")), schema_revision=manifest.get("schema_revision"),
        engine=manifest.get("engine"), tables={t["name"]: t["rows"] for t in manifest.get("tables", [])},
        size_bytes=chunk_bytes(manifest) + manifest_bytes,
        new_bytes=manifest.get("new_chunk_bytes", 0) + manifest_bytes, sha256=state.get("sha256"),
        encrypted=bool(manifest.get("encrypted")), note=manifest.get("note"),
        verified_at=_parse_time(state.get("verified_at")), error=state.get("error", UNVERIFIED if not state else None),
        duration_ms=manifest.get("duration_ms"),
    )


def sync(repository):
    """Add rows for manifests the table lacks; mark backups whose maker died as failed."""
    known = dict(db.session.execute(select(Backup.id, Backup.status)).all())
    for backup_id in repository.backup_ids():
        if backup_id not in known:
            try:
                db.session.add(row_from_repository(repository, backup_id))
            except RepositoryError:
                continue
    if "running" in known.values() and not is_held(repository):
        # A running backup holds the maintenance lock; with no live holder its maker is gone.
        for row in db.session.scalars(select(Backup).where(Backup.status == "running")):
            if repository.has_manifest(row.id):  # written, then stopped before or during its verify
                state = repository.read_state(row.id)
                row.status, row.error = state.get("status") or "failed", state.get("error", UNVERIFIED)
            else:
                row.status, row.error = "failed", INTERRUPTED
    db.session.commit()


def repository_records(repository):
    """Records read from the repository alone (the database is empty, missing or broken)."""
    records = []
    for backup_id in reversed(repository.backup_ids()):
        records.append(record_dict(row_from_repository(repository, backup_id)))
    return records


def save_state(repository, row):
    """Write a backup's verify outcome next to its manifest, so the repository remembers it."""
    repository.write_state(row.id, {"status": row.status, "verified_at": isoformat(row.verified_at),
                                    "error": row.error, "sha256": row.sha256})
