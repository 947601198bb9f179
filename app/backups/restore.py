"""Restore a backup: check it whole, take a safety backup, then replace the data in one
transaction. On any failure the database holds exactly what it held before.

Access never comes back with the data: in the same transaction, the sign-outs,
revocations and changes of ``active`` and ``is_admin`` made since the backup are applied
again (``auth/access_changes.py``), and the restore says which tokens and users lost
access, for the caller to close their sockets once it has committed. A backup restored
as unsigned may come from another installation, whose user ids name other people: only
revocations are applied again to it, never a grant.
"""
import logging
from datetime import datetime, timedelta
from typing import NamedTuple

from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import upgrade
from sqlalchemy import inspect

from ..auth import access_changes
from ..bulk import write_rows
from ..extensions import db
from ..models.base import utcnow
from . import catalog
from .configured import BackupError, one_line, repository, sealer
from .create import create_backup
from .crypto import BackupIntegrityError
from .files import restore_files
from .load import clear_tables, datetime_fixer, reset_sequences, suspend_constraints
from .lock import maintenance
from .reader import check_all_chunks, iter_table_chunks, load_restorable_manifest
from .repository import RepositoryError
from .snapshot import application_tables
from .verify import model_tables

log = logging.getLogger(__name__)

KEPT = {"audit_log", "backups", "access_changes"}  # these keep running on through a restore
# Access changes are re-applied from this long before the backup was queued: clocks of two
# machines may disagree by that much, and re-applying one the backup holds changes nothing.
CLOCK_MARGIN = timedelta(minutes=5)


class Restored(NamedTuple):
    """What a restore did: the safety backup's id, and whose access it ended."""
    safety_backup: str | None
    access_ended: access_changes.AccessEnded


def code_revision():
    """The schema revision this code expects: the head(s) of the migrations."""
    directory = current_app.extensions["migrate"].directory
    return ",".join(sorted(ScriptDirectory(directory).get_heads()))


def restored_tables():
    return [t for t in application_tables() if t.name not in KEPT]


def check_restorable(repo, seal, backup_id, allow_unsigned=False):
    """Return ``(manifest, authenticated)`` if the backup can be restored here; raise
    BackupError if not."""
    try:
        manifest, authenticated = load_restorable_manifest(repo, seal, backup_id, allow_unsigned)
    except (BackupIntegrityError, RepositoryError) as error:
        raise BackupError(f"backup {backup_id} cannot be restored: {error}") from None
    expected = code_revision()
    if manifest.get("schema_revision") != expected:
        raise BackupError(
            f"backup {backup_id} was made at schema revision {manifest.get('schema_revision')} and this code "
            f"is at {expected}: restore it with the code of that revision, or upgrade that code first")
    try:
        model_tables(manifest)
        check_all_chunks(repo, seal, manifest)
    except (BackupIntegrityError, RepositoryError) as error:
        raise BackupError(f"backup {backup_id} cannot be restored: {error}") from None
    return manifest, authenticated


def ensure_schema():
    """Create the schema when the database is empty or new (a restore onto nothing)."""
    if not inspect(db.engine).has_table("alembic_version"):
        upgrade()


def reapply_since(manifest):
    """When access changes start to matter for this backup: a margin before it was queued,
    or before now if it says it is newer (None, all of them, when it does not say when)."""
    try:
        return min(datetime.fromisoformat(manifest["created_at"].rstrip("Z")), utcnow()) - CLOCK_MARGIN
    except (KeyError, AttributeError, TypeError, ValueError):
        return None


def restore_backup(backup_id, *, safety=True, allow_unsigned=False):
    """Replace the application's data with the backup's; return ``Restored``: the safety
    backup's id and what access the restore ended. A backup whose manifest is not
    authenticated is refused unless ``allow_unsigned``."""
    repo, seal = repository(), sealer()
    db.session.commit()  # end the caller's transaction: on SQLite it holds the write lock
    ensure_schema()
    with maintenance(repo, "restore") as lock:
        manifest, authenticated = check_restorable(repo, seal, backup_id, allow_unsigned)
        catalog.sync(repo)
        try:  # files first: a restored row never names a file that is not there
            restore_files(repo, seal, manifest)
        except (BackupIntegrityError, RepositoryError) as error:
            raise BackupError(f"backup {backup_id} cannot be restored: {error}") from None
        safety_id = None
        if safety:
            safety_id = create_backup(note=f"safety backup before restore of {backup_id}", lock=lock).id
        entries = {entry["name"]: entry for entry in manifest["tables"]}
        every = restored_tables()
        tables = [t for t in every if t.name in entries]
        db.session.commit()  # the session must hold no table locks while TRUNCATE waits for them
        try:
            with db.engine.begin() as connection:
                before = access_changes.live_tokens(connection)
                clear_tables(connection, every)
                put_back = suspend_constraints(connection, every)
                for table in tables:
                    entry = entries[table.name]
                    fix = datetime_fixer(table, entry["columns"], manifest.get("engine"), connection.dialect.name)
                    for rows in iter_table_chunks(repo, seal, manifest, entry):
                        write_rows(connection, table, entry["columns"], fix(rows))
                put_back()
                reset_sequences(connection, every)
                restored = access_changes.live_tokens(connection)
                reapplied = access_changes.reapply(connection, reapply_since(manifest), grants=authenticated)
                ended = access_changes.ended_by_restore(before, restored, access_changes.live_tokens(connection),
                                                        reapplied)
                lock.check()  # still ours: nobody took over while we stalled
        except Exception as error:
            log.exception("restore of %s failed and was rolled back", backup_id)
            raise BackupError(f"restore of {backup_id} failed and changed nothing: {one_line(error)}") from error
    return Restored(safety_id, ended)

