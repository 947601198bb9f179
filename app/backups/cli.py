"""CLI: ``flask backup create|list|verify|restore|prune|stats``, run in this process."""
import json
import sys

import click
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from . import catalog, service
from .configured import BackupError, one_line, repository
from .crypto import BackupIntegrityError
from .lock import LockBusy
from .repository import RepositoryError
from .verify import verify_backup

backup_cli = AppGroup("backup", help="Make, list, verify, restore and prune backups.")

FAILURES = (BackupError, BackupIntegrityError, RepositoryError, LockBusy, ValueError)


def _fail(error):
    db.session.rollback()
    sys.exit(f"error: {one_line(error)}")


@backup_cli.command("create")
@click.option("--note", default=None, help="A note to keep with the backup (500 characters at most).")
def create_command(note):
    """Make a backup now, verify it, and print its id on the last line."""
    if note is not None and len(note) > 500:
        _fail(ValueError("the note is longer than 500 characters"))
    try:
        record = service.run_backup(None, note)
    except (*FAILURES, SQLAlchemyError) as error:
        _fail(error)
    click.echo(f"{record['status']} {record['size_bytes']} bytes ({record['new_bytes']} new)")
    click.echo(record["id"])


@backup_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of backup records.")
def list_command(as_json):
    """List backups, newest first, one a line (id first). Works without a database."""
    try:
        records = service.all_backups()
    except SQLAlchemyError:
        db.session.rollback()
        records = catalog.repository_records(repository())  # the database is empty, missing or broken
    except FAILURES as error:
        _fail(error)
    if as_json:
        click.echo(json.dumps(records, indent=1))
        return
    for r in records:
        tables = sum((r["tables"] or {}).values())
        click.echo(f"{r['id']}  {r['status']:<8}  {r['engine'] or '-':<10}  {tables:>9} rows  "
                   f"{r['size_bytes']:>12} bytes  {r['note'] or ''}".rstrip())


@backup_cli.command("verify")
@click.argument("backup_id")
def verify_command(backup_id):
    """Verify a backup by loading it into a scratch database; print the id and outcome."""
    try:
        if not repository().has_manifest(backup_id):
            _fail(RepositoryError(f"backup {backup_id} is not in the repository"))
        try:
            result = service.run_verify(backup_id)
        except SQLAlchemyError:
            db.session.rollback()
            result = verify_backup(backup_id, update_catalog=False)
    except FAILURES as error:
        _fail(error)
    if not result["ok"]:
        sys.exit(f"{backup_id} corrupt: {result['error']}")
    click.echo(f"{backup_id} verified ({sum(result['tables'].values())} rows)")


@backup_cli.command("restore")
@click.argument("backup_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--unsigned", is_flag=True,
              help="Restore even if the backup's manifest is not authenticated (made by another installation or an "
                   "older Beacon, or planted in BACKUP_DIR): only a backup whose origin you trust.")
def restore_command(backup_id, yes, unsigned):
    """Restore a backup (after a safety backup); works onto an empty or missing database.

    A backup is authenticated by BACKUP_ENCRYPTION_KEY, or else by SECRET_KEY: one made by
    another installation restores with that installation's key, or with --unsigned."""
    if not yes:
        click.confirm(f"Replace all data with backup {backup_id}?", abort=True)
    try:
        if not repository().has_manifest(backup_id):
            _fail(RepositoryError(f"backup {backup_id} is not in the repository"))
        result = service.run_restore(backup_id, allow_unsigned=unsigned)
    except (*FAILURES, SQLAlchemyError) as error:
        _fail(error)
    click.echo(f"{backup_id} restored (safety backup {result['safety_backup']})")


@backup_cli.command("prune")
@click.option("--dry-run", is_flag=True, help="Show the plan without deleting anything.")
def prune_command(dry_run):
    """Delete the backups retention does not keep, then unreferenced chunks."""
    try:
        result = service.prune_plan() if dry_run else service.run_prune()
    except (*FAILURES, SQLAlchemyError) as error:
        _fail(error)
    for backup_id in result["keep"]:
        click.echo(f"keep    {backup_id}")
    for backup_id in result["delete"]:
        click.echo(f"{'would delete' if dry_run else 'deleted'} {backup_id}")


@backup_cli.command("stats")
def stats_command():
    """Print repository statistics as JSON."""
    try:
        click.echo(json.dumps(service.stats(), indent=1))
    except (*FAILURES, SQLAlchemyError) as error:
        _fail(error)
