"""Verify a backup by restoring it: into a scratch SQLite database built from the models."""
import os
import tempfile

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from ..bulk import write_rows
from ..extensions import db
from ..models import Backup
from ..models.base import utcnow
from . import catalog
from .configured import repository, sealer
from .crypto import BackupIntegrityError
from .files import check_blobs
from .lock import LOCK_WAIT_SECONDS, maintenance
from .reader import iter_table_chunks, load_manifest
from .repository import RepositoryError


def model_tables(manifest):
    """The current models' table for each table of the manifest; refuse unknown ones."""
    tables = []
    for entry in manifest["tables"]:
        table = db.metadata.tables.get(entry["name"])
        if table is None:
            raise BackupIntegrityError(f"table {entry['name']} is not in the current models")
        if sorted(entry["columns"]) != sorted(c.name for c in table.columns):
            raise BackupIntegrityError(f"table {entry['name']}: its columns differ from the current models")
        tables.append((entry, table))
    return tables


def check_backup(repo, seal, backup_id):
    """Load the whole backup into a scratch SQLite database; return ``(rows per table, sha256)``.

    Raises BackupIntegrityError naming what is wrong (and the table and chunk, for a chunk).
    """
    manifest, digest = load_manifest(repo, seal, backup_id)
    tables = model_tables(manifest)
    handle, path = tempfile.mkstemp(prefix="beacon-verify-", suffix=".db")
    os.close(handle)
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    try:
        db.metadata.create_all(engine, tables=[t for _e, t in tables])
        counts = {}
        with engine.begin() as connection:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            for entry, table in tables:
                for rows in iter_table_chunks(repo, seal, manifest, entry):
                    try:
                        write_rows(connection, table, entry["columns"], rows)
                    except SQLAlchemyError as error:
                        raise BackupIntegrityError(
                            f"table {entry['name']}: rows do not load ({type(error.orig).__name__})") from None
                count = connection.execute(select(func.count()).select_from(table)).scalar()
                if count != entry["rows"]:
                    raise BackupIntegrityError(f"table {entry['name']}: {count} rows, the manifest says {entry['rows']}")
                counts[entry["name"]] = count
            problems = connection.execute(text("PRAGMA foreign_key_check")).all()
            if problems:
                first = problems[0]
                raise BackupIntegrityError(
                    f"table {first[0]}: {len(problems)} rows break foreign keys (first: rowid {first[1]} -> {first[2]})")
        check_blobs(repo, seal, manifest)
        return counts, digest
    finally:
        engine.dispose()
        for suffix in ("", "-journal", "-wal", "-shm"):
            try:
                os.unlink(path + suffix)
            except FileNotFoundError:
                pass


def verify_backup(backup_id, *, lock=None, update_catalog=True):
    """Verify a backup and record the outcome; return ``{"ok": True, "tables"}`` or
    ``{"ok": False, "error"}`` (a damaged backup is an answer, not an exception)."""
    repo, seal = repository(), sealer()
    with maintenance(repo, "verify", lock, wait=LOCK_WAIT_SECONDS):
        try:
            counts, digest = check_backup(repo, seal, backup_id)
            result = {"ok": True, "id": backup_id, "tables": counts}
        except (BackupIntegrityError, RepositoryError) as error:
            digest, result = None, {"ok": False, "id": backup_id, "error": str(error)}
        row = _catalog_row(repo, backup_id) if update_catalog else None
        if row is None:
            row = catalog.row_from_repository(repo, backup_id)
        if result["ok"]:
            row.status, row.verified_at, row.error, row.sha256 = "verified", utcnow(), None, digest
        else:
            row.status, row.error = "corrupt", result["error"][:2000]
        catalog.save_state(repo, row)
        if update_catalog:
            db.session.commit()
    return result


def _catalog_row(repo, backup_id):
    row = db.session.get(Backup, backup_id)
    if row is None and repo.has_manifest(backup_id):
        row = catalog.row_from_repository(repo, backup_id)
        db.session.add(row)
    return row
