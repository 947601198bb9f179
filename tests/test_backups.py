"""Backups on both engines: round trip, dedup, damage, encryption, atomic restore, the lock."""
import json
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from app.backups import restore as restore_module
from app.backups import service, snapshot
from app.backups.configured import BackupError, repository
from app.backups.create import create_backup
from app.backups.lock import LOCK_NAME, LockBusy, MaintenanceLock
from app.backups.restore import code_revision, restore_backup
from app.backups.verify import verify_backup
from app.extensions import db
from app.models import Backup, Issue, User
from tests.support.backups import (KEY_A, KEY_B, chunk_path, dump, flip_byte, manifest_path, populate,
                                   read_manifest, repo_dir, table_chunk)

__all__ = ["repo_dir"]


def test_round_trip_restores_every_table_exactly(app, factory, repo_dir):
    admin, dev, project, issues = populate(factory)
    before = dump(db)
    record = service.run_backup(None, "before the changes")
    assert record["status"] == "verified" and record["tables"]["issues"] == len(issues)
    assert record["size_bytes"] > 0 and record["new_bytes"] == record["size_bytes"]
    assert record["sha256"] and record["engine"] == db.engine.dialect.name
    assert record["schema_revision"] == code_revision()

    factory.issue(project, admin, title="after the backup")
    db.session.execute(User.__table__.update().values(name="renamed"))
    db.session.delete(db.session.get(Issue, issues[1].id))
    db.session.commit()
    assert dump(db) != before

    result = service.run_restore(record["id"])
    assert dump(db) == before
    safety = db.session.get(Backup, result["safety_backup"])
    assert safety.status == "verified" and record["id"] in safety.note
    # Ids go on from the restored rows (PostgreSQL sequences were reset).
    new_issue = factory.issue(project, db.session.get(User, admin.id), title="after the restore")
    assert new_issue.id == max(i.id for i in issues) + 1
    actions = [a for a, in db.session.execute(select(db.metadata.tables["audit_log"].c.action))]
    assert {"backup.create", "backup.restore"} <= set(actions)


def test_second_backup_writes_only_what_changed(app, factory, repo_dir, monkeypatch):
    from app.issues.service import update_issue

    monkeypatch.setattr(snapshot, "CHUNK_SPAN", 10)
    admin, _dev, _project, issues = populate(factory, issues=40)
    first = service.run_backup(None, None)
    update_issue(issues[5], admin, {"title": "a small change"}, None)
    second = service.run_backup(None, None)
    chunks = [{c["hash"] for t in read_manifest(repo_dir, b)["manifest"]["tables"] for c in t["chunks"]}
              for b in (first["id"], second["id"])]
    assert len(chunks[1] - chunks[0]) <= 6, "only the changed ranges (issue, event, project, audit) are new"
    manifest_bytes = os.path.getsize(manifest_path(repo_dir, second["id"]))
    assert second["new_bytes"] - manifest_bytes < (first["new_bytes"] - manifest_bytes) / 3
    assert second["size_bytes"] >= first["size_bytes"]
    # A changed range is stored as a delta on the first backup's chunk; restoring it needs both.
    deltas = [c for t in read_manifest(repo_dir, second["id"])["manifest"]["tables"] for c in t["chunks"] if "base" in c]
    assert deltas and all(c["base"] in chunks[0] for c in deltas)
    after = dump(db)
    update_issue(issues[6], admin, {"title": "after the second backup"}, None)
    service.run_restore(second["id"])
    assert dump(db) == after
    flip_byte(chunk_path(repo_dir, deltas[0]["base"]))
    result = verify_backup(second["id"])
    assert result["ok"] is False and f"chunk {deltas[0]['base']} (base of {deltas[0]['hash']})" in result["error"]


def test_flipped_byte_is_named_by_verify_and_a_clean_verify_marks_it_verified_again(app, factory, repo_dir):
    populate(factory)
    record = service.run_backup(None, None)
    name = table_chunk(repo_dir, record["id"], "issues")
    original = Path(chunk_path(repo_dir, name)).read_bytes()
    flip_byte(chunk_path(repo_dir, name))

    result = verify_backup(record["id"])
    assert result["ok"] is False
    assert "table issues" in result["error"] and name in result["error"]
    row = db.session.get(Backup, record["id"])
    assert row.status == "corrupt" and name in row.error
    with pytest.raises(BackupError, match="table issues"):
        restore_backup(record["id"])

    Path(chunk_path(repo_dir, name)).write_bytes(original)
    assert verify_backup(record["id"])["ok"] is True
    db.session.expire_all()
    assert db.session.get(Backup, record["id"]).status == "verified"


@pytest.mark.parametrize("damage, message", [
    ("truncate", "truncated"),
    ("edit", "does not match its checksum"),
    ("escape", "invalid chunk name"),
])
def test_truncated_edited_or_escaping_manifest_is_refused(app, factory, repo_dir, damage, message):
    import hashlib

    from app.backups.crypto import canonical

    populate(factory)
    record = service.run_backup(None, None)
    path = manifest_path(repo_dir, record["id"])
    document = read_manifest(repo_dir, record["id"])
    if damage == "truncate":
        Path(path).write_bytes(Path(path).read_bytes()[:1000])
    else:
        issues = next(t for t in document["manifest"]["tables"] if t["name"] == "issues")
        issues["rows"] += 1
        if damage == "escape":  # a forger who also fixes the checksum cannot leave the repository,
            # even in a backup restored as unsigned
            issues["chunks"][0]["hash"] = "../../../../etc/passwd"
            document["auth"] = {"type": "sha256", "value": hashlib.sha256(canonical(document["manifest"])).hexdigest()}
        Path(path).write_text(json.dumps(document))
    before = dump(db)
    result = verify_backup(record["id"])
    assert result["ok"] is False and (message if damage != "escape" else "not authenticated") in result["error"]
    with pytest.raises(BackupError, match=message):
        restore_backup(record["id"], allow_unsigned=True)  # damage is refused even then
    assert dump(db) == before


def test_missing_chunk_refuses_restore_and_changes_nothing(app, factory, repo_dir):
    admin, _dev, project, _issues = populate(factory)
    record = service.run_backup(None, None)
    factory.issue(project, admin, title="made after the backup")
    os.unlink(chunk_path(repo_dir, table_chunk(repo_dir, record["id"], "comments")))
    before = dump(db)
    with pytest.raises(BackupError, match="table comments chunk .* is missing"):
        restore_backup(record["id"])
    assert dump(db) == before
    assert db.session.scalar(select(Backup).where(Backup.note.like("safety%"))) is None


def test_restore_failing_half_way_leaves_the_database_as_it_was(app, factory, repo_dir, monkeypatch):
    admin, _dev, project, _issues = populate(factory)
    record = service.run_backup(None, None)
    factory.issue(project, admin, title="made after the backup")
    before = dump(db)
    real_insert = restore_module.write_rows
    inserted = []

    def failing_insert(connection, table, columns, rows):
        if table.name == "comments":
            raise RuntimeError("disk on fire")
        inserted.append(table.name)
        real_insert(connection, table, columns, rows)

    monkeypatch.setattr(restore_module, "write_rows", failing_insert)
    with pytest.raises(BackupError, match="failed and changed nothing: disk on fire"):
        restore_backup(record["id"])
    assert {"users", "projects", "issues"} <= set(inserted)  # it got half-way
    assert dump(db) == before


def test_encrypted_backup_needs_the_right_key(app, factory, repo_dir, monkeypatch):
    populate(factory)
    monkeypatch.setitem(app.config, "BACKUP_ENCRYPTION_KEY", KEY_A)
    record = service.run_backup(None, None)
    assert record["encrypted"] is True and record["status"] == "verified"
    name = table_chunk(repo_dir, record["id"], "users")
    assert Path(chunk_path(repo_dir, name)).read_bytes().startswith(b"BKE1")
    before = dump(db)

    monkeypatch.setitem(app.config, "BACKUP_ENCRYPTION_KEY", KEY_B)
    result = verify_backup(record["id"])
    assert result["ok"] is False and "wrong key" in result["error"]
    with pytest.raises(BackupError, match="wrong key"):
        restore_backup(record["id"])
    monkeypatch.setitem(app.config, "BACKUP_ENCRYPTION_KEY", None)
    with pytest.raises(BackupError, match="BACKUP_ENCRYPTION_KEY is not set"):
        restore_backup(record["id"])
    monkeypatch.setitem(app.config, "BACKUP_ENCRYPTION_KEY", "not base64 of 32 bytes")
    with pytest.raises(BackupError, match="BACKUP_ENCRYPTION_KEY"):
        restore_backup(record["id"])
    assert dump(db) == before
    monkeypatch.setitem(app.config, "BACKUP_ENCRYPTION_KEY", KEY_A)
    assert verify_backup(record["id"])["ok"] is True


def test_edited_encrypted_manifest_fails_authentication(app, factory, repo_dir, monkeypatch):
    populate(factory)
    monkeypatch.setitem(app.config, "BACKUP_ENCRYPTION_KEY", KEY_A)
    record = service.run_backup(None, None)
    document = read_manifest(repo_dir, record["id"])
    document["manifest"]["note"] = "forged"
    Path(manifest_path(repo_dir, record["id"])).write_text(json.dumps(document))
    assert "failed authentication" in verify_backup(record["id"])["error"]


def test_other_schema_revision_is_refused_with_a_clear_message(app, factory, repo_dir, monkeypatch):
    populate(factory)
    record = service.run_backup(None, None)
    made_at = code_revision()
    monkeypatch.setattr(restore_module, "code_revision", lambda: "9999_newer")
    before = dump(db)
    with pytest.raises(BackupError, match=f"schema revision {made_at} and this code is at 9999_newer"):
        restore_backup(record["id"])
    assert dump(db) == before


def test_second_restore_is_refused_while_the_lock_is_held(app, factory, repo_dir):
    populate(factory)
    record = service.run_backup(None, None)
    holder = MaintenanceLock(repository(), "restore").acquire()
    try:
        with pytest.raises(LockBusy, match="another restore is running"):
            restore_backup(record["id"])
        with pytest.raises(LockBusy):
            service.run_prune()
    finally:
        holder.release()
    assert restore_backup(record["id"])


def test_expired_lock_of_a_dead_holder_is_taken_over(app, factory, repo_dir):
    populate(factory)
    record = service.run_backup(None, None)
    lock_file = repository().locks / LOCK_NAME
    lock_file.write_text(json.dumps({"token": "elsewhere", "purpose": "restore", "pid": 1, "host": "other-host",
                                     "expires_at": time.time() - 1}))
    assert restore_backup(record["id"])
    assert not lock_file.exists()


def test_lock_heartbeat_keeps_a_live_holder(app, repo_dir):
    repo = repository()
    holder = MaintenanceLock(repo, "prune", ttl=0.6).acquire()
    try:
        time.sleep(1.0)  # beyond the ttl: only the heartbeat keeps it
        with pytest.raises(LockBusy):
            MaintenanceLock(repo, "restore", ttl=0.6).acquire(wait=0.3)
    finally:
        holder.release()
    MaintenanceLock(repo, "restore").acquire().release()


def test_failed_snapshot_is_recorded_failed_and_leaves_no_manifest(app, factory, repo_dir, monkeypatch):
    populate(factory)

    def broken(*_args):
        raise OSError("no space left on device")

    monkeypatch.setattr("app.backups.create.write_tables", broken)
    with pytest.raises(BackupError, match="no space left"):
        create_backup("doomed")
    row = db.session.scalar(select(Backup).where(Backup.note == "doomed"))
    assert row.status == "failed" and "no space left" in row.error
    assert os.listdir(os.path.join(repo_dir, "manifests")) == []


def test_backup_whose_maker_stopped_before_verify_is_listed_unverified(app, factory, repo_dir):
    from app.backups.catalog import UNVERIFIED

    populate(factory)
    row = create_backup("never verified", verify=False)  # the state a process killed right here leaves
    assert row.status == "running"
    record = next(r for r in service.all_backups() if r["id"] == row.id)
    assert record["status"] == "failed" and record["error"] == UNVERIFIED
    assert verify_backup(row.id)["ok"] is True
    assert next(r for r in service.all_backups() if r["id"] == row.id)["status"] == "verified"
