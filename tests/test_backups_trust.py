"""Backups only this installation can have made: a manifest planted in ``BACKUP_DIR`` (or
made elsewhere) is restored only when the admin says so, and the repository is private."""
import json
import os
import stat

import pytest
from sqlalchemy import func, select

from app.backups import service
from app.backups.configured import BackupError
from app.backups.lock import MaintenanceLock
from app.backups.restore import restore_backup
from app.backups.verify import verify_backup
from app.extensions import db
from app.models import Backup, User
from app.worker import get_queue
from tests.support.backups import manifest_path, plant_backup, populate, read_manifest, repo_dir
from tests.test_backups_api import BASE, job, run_jobs
from tests.test_backups_cli import flask

__all__ = ["repo_dir"]
PLANTED_EMAIL = "planted@evil.test"


def planted_admins():
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(User).where(User.email == PLANTED_EMAIL,
                                                                          User.is_admin.is_(True)))


def test_repository_files_are_private_to_the_owner(app, factory, repo_dir):
    populate(factory)
    service.run_backup(None, "first")
    service.run_backup(None, "second")  # deltas and state files too
    from app.backups.configured import repository

    held = MaintenanceLock(repository(), "prune").acquire()
    try:
        held.renew()
        found = {"dirs": 0, "files": 0}
        assert stat.S_IMODE(os.stat(repo_dir).st_mode) == 0o700
        for folder, dirs, files in os.walk(repo_dir):
            for name in dirs:
                assert stat.S_IMODE(os.stat(os.path.join(folder, name)).st_mode) == 0o700, name
                found["dirs"] += 1
            for name in files:
                assert stat.S_IMODE(os.stat(os.path.join(folder, name)).st_mode) == 0o600, name
                found["files"] += 1
    finally:
        held.release()
    assert found["dirs"] > 4 and found["files"] > 10


def test_planted_backup_is_refused_by_the_cli_unless_unsigned(app, runner, factory, repo_dir):
    populate(factory)
    planted = plant_backup(repo_dir, service.run_backup(None, "real")["id"], PLANTED_EMAIL)

    verified = runner.invoke(args=["backup", "verify", planted])
    assert verified.exit_code == 1 and "not authenticated" in verified.output
    refused = runner.invoke(args=["backup", "restore", planted, "--yes"])
    assert refused.exit_code == 1 and "not authenticated" in refused.output and "--unsigned" in refused.output
    assert planted_admins() == 0
    restored = runner.invoke(args=["backup", "restore", planted, "--yes", "--unsigned"])
    assert restored.exit_code == 0, restored.output
    assert planted_admins() == 1


def test_planted_backup_is_refused_by_the_api_unless_allow_unsigned(app, client, factory, repo_dir):
    admin, *_ = populate(factory)
    headers = factory.headers(admin)
    planted = plant_backup(repo_dir, service.run_backup(None, "real")["id"], PLANTED_EMAIL)

    refused = client.post(f"{BASE}/{planted}/restore", json={"confirm": planted}, headers=headers)
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert "not authenticated" in refused.json["errors"]["allow_unsigned"][0]
    assert len(get_queue()) == 0
    wrong = client.post(f"{BASE}/{planted}/restore", json={"confirm": planted, "allow_unsigned": "yes"},
                        headers=headers)
    assert wrong.status_code == 422 and "allow_unsigned" in wrong.json["errors"] and len(get_queue()) == 0

    started = client.post(f"{BASE}/{planted}/restore", json={"confirm": planted, "allow_unsigned": True},
                          headers=headers)
    assert started.status_code == 202
    run_jobs(app)
    assert job(app, started.json["job_id"]).get_status().value == "finished"
    assert planted_admins() == 1


def test_planted_backup_is_listed_and_verified_as_unauthenticated(app, client, factory, repo_dir):
    admin, *_ = populate(factory)
    real = service.run_backup(None, "real")["id"]
    planted = plant_backup(repo_dir, real, PLANTED_EMAIL)
    (repo_dir / "state" / f"{planted}.json").write_text(json.dumps({"status": "verified", "error": None}))

    listed = {r["id"]: r for r in service.all_backups()}
    assert listed[real]["status"] == "verified"
    assert listed[planted]["status"] == "corrupt" and "not authenticated" in listed[planted]["error"]
    result = verify_backup(planted)
    assert result["ok"] is False and "not authenticated" in result["error"]
    assert db.session.get(Backup, planted).status == "corrupt"
    assert service.prune_plan()["keep"] == [real]  # it fills no retention slot


def test_backup_of_another_installation_needs_its_secret_key_or_unsigned(app, factory, repo_dir, monkeypatch):
    populate(factory)
    ours = app.config["SECRET_KEY"]
    monkeypatch.setitem(app.config, "SECRET_KEY", "the other installation's key")
    record = service.run_backup(None, "made elsewhere")
    monkeypatch.setitem(app.config, "SECRET_KEY", ours)

    result = verify_backup(record["id"])
    assert result["ok"] is False and "SECRET_KEY" in result["error"]
    with pytest.raises(BackupError, match="not authenticated by this installation's SECRET_KEY"):
        restore_backup(record["id"])
    assert restore_backup(record["id"], allow_unsigned=True).safety_backup
    monkeypatch.setitem(app.config, "SECRET_KEY", "the other installation's key")
    assert verify_backup(record["id"])["ok"] is True  # with that installation's key it is authentic


def test_a_new_machine_restores_with_the_old_secret_key_or_unsigned(app, factory, repo_dir, tmp_path):
    """The documented ways across installations: the same SECRET_KEY, or --unsigned."""
    populate(factory)
    record = service.run_backup(None, "to carry over")
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}", "BACKUP_DIR": str(repo_dir),
           "BEACON_INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "the new machine's own key"}
    listed = flask(["backup", "list", "--json"], env)
    assert listed.returncode == 0, listed.stderr
    assert [(r["id"], r["status"]) for r in json.loads(listed.stdout)] == [(record["id"], "corrupt")]
    refused = flask(["backup", "restore", record["id"], "--yes"], env)
    reason = refused.stderr.strip().splitlines()[-1]
    assert refused.returncode == 1 and reason.startswith("error: backup") and "SECRET_KEY" in reason
    restored = flask(["backup", "restore", record["id"], "--yes", "--unsigned"], env)
    assert restored.returncode == 0 and restored.stdout.startswith(f"{record['id']} restored"), restored.stderr
    again = flask(["backup", "restore", record["id"], "--yes"], {**env, "SECRET_KEY": app.config["SECRET_KEY"]})
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize("value", ["é" * 64, "\ud800"])
def test_a_signature_of_any_characters_is_an_answer_not_a_crash(app, factory, repo_dir, value):
    populate(factory)
    record = service.run_backup(None, None)
    document = read_manifest(repo_dir, record["id"])
    document["auth"]["value"] = value
    with open(manifest_path(repo_dir, record["id"]), "w") as handle:
        json.dump(document, handle)
    result = verify_backup(record["id"])
    assert result["ok"] is False and "not authenticated" in result["error"]
