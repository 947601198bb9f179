"""``flask backup ...``: in this process, in subprocesses, onto a missing database, and killed."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from sqlalchemy import delete, select

from app.backups import service
from app.backups.catalog import INTERRUPTED
from app.extensions import db
from app.models import Backup
from tests.support.backups import bulk_load, chunk_path, flip_byte, populate, repo_dir, table_chunk
from tests.support.live import ROOT

__all__ = ["repo_dir"]


def flask(args, env, timeout=120):
    full_env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "EMBEDDED_WORKER": "0", **env}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def test_cli_create_list_verify_restore_prune_stats(app, runner, factory, repo_dir):
    admin, _dev, project, _issues = populate(factory)
    created = runner.invoke(args=["backup", "create", "--note", "from the cli"])
    assert created.exit_code == 0, created.output
    backup_id = created.output.strip().splitlines()[-1]
    assert db.session.get(Backup, backup_id).status == "verified"

    listed = runner.invoke(args=["backup", "list"])
    assert listed.exit_code == 0 and listed.output.splitlines()[0].split()[0] == backup_id
    records = json.loads(runner.invoke(args=["backup", "list", "--json"]).output)
    assert records[0]["id"] == backup_id and records[0]["note"] == "from the cli"

    verified = runner.invoke(args=["backup", "verify", backup_id])
    assert verified.exit_code == 0 and verified.output.startswith(f"{backup_id} verified")

    factory.issue(project, admin, title="made after the backup")
    db.session.commit()
    restored = runner.invoke(args=["backup", "restore", backup_id, "--yes"])
    assert restored.exit_code == 0, restored.output
    assert restored.output.startswith(f"{backup_id} restored (safety backup ")

    plan = runner.invoke(args=["backup", "prune", "--dry-run"])
    assert plan.exit_code == 0 and f"would delete {backup_id}" in plan.output
    assert runner.invoke(args=["backup", "prune"]).exit_code == 0
    stats = json.loads(runner.invoke(args=["backup", "stats"]).output)
    assert stats["count"] == 1 and stats["by_status"]["verified"] == 1


def test_cli_failures_exit_non_zero_with_one_line(app, runner, factory, repo_dir):
    populate(factory)
    unknown = runner.invoke(args=["backup", "verify", "20990101T000000Z-0000"])
    assert unknown.exit_code == 1 and unknown.output.count("\n") <= 1 and "not in the repository" in unknown.output
    assert runner.invoke(args=["backup", "restore", "../etc", "--yes"]).exit_code == 1
    assert runner.invoke(args=["backup", "create", "--note", "n" * 501]).exit_code == 1

    backup_id = runner.invoke(args=["backup", "create"]).output.strip().splitlines()[-1]
    flip_byte(chunk_path(repo_dir, table_chunk(repo_dir, backup_id, "users")))
    corrupt = runner.invoke(args=["backup", "verify", backup_id])
    assert corrupt.exit_code == 1 and f"{backup_id} corrupt: table users chunk" in corrupt.output
    refused = runner.invoke(args=["backup", "restore", backup_id, "--yes"])
    assert refused.exit_code == 1 and "cannot be restored" in refused.output


def test_catalog_is_rebuilt_from_the_repository_when_the_table_is_emptied(app, runner, factory, repo_dir):
    populate(factory)
    first = service.run_backup(None, "one")
    db.session.execute(delete(Backup))
    db.session.commit()
    records = json.loads(runner.invoke(args=["backup", "list", "--json"]).output)
    assert [(r["id"], r["status"], r["note"]) for r in records] == [(first["id"], "verified", "one")]
    assert records[0]["tables"] == first["tables"] and records[0]["size_bytes"] == first["size_bytes"]


def test_list_verify_restore_work_onto_a_missing_database(app, factory, repo_dir, tmp_path):
    """The repository describes itself: a new SQLite file gets the schema and the data (the
    installation's SECRET_KEY, which authenticates its backups, is kept apart from its database)."""
    populate(factory)
    record = service.run_backup(None, "to carry over")
    target = tmp_path / "gone" / "beacon.db"
    target.parent.mkdir()
    env = {"DATABASE_URL": f"sqlite:///{target}", "BACKUP_DIR": str(repo_dir), "BEACON_INSTANCE_PATH": str(tmp_path),
           "SECRET_KEY": app.config["SECRET_KEY"]}

    listed = flask(["backup", "list"], env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split()[0] == record["id"]
    verified = flask(["backup", "verify", record["id"]], env)
    assert verified.returncode == 0 and "verified" in verified.stdout, verified.stderr
    restored = flask(["backup", "restore", record["id"], "--yes"], env)
    assert restored.returncode == 0, restored.stderr
    with sqlite3.connect(target) as connection:
        assert connection.execute("SELECT count(*) FROM issues").fetchone()[0] == record["tables"]["issues"]
        assert connection.execute("SELECT count(*) FROM users").fetchone()[0] == record["tables"]["users"]


def test_backup_process_killed_mid_way_never_lists_a_completed_backup(app, repo_dir, database_url):
    with db.engine.begin() as connection:
        bulk_load(connection, issues=30_000, events=30_000, comments=0)
    env = {"DATABASE_URL": database_url, "BACKUP_DIR": str(repo_dir), "BEACON_INSTANCE_PATH": app.instance_path}
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "backup", "create", "--note", "killed"],
                               cwd=ROOT, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    try:
        while not list((repo_dir / "chunks").glob("*/*")):  # the snapshot is being written
            assert process.poll() is None and time.monotonic() < deadline, "the backup ended before it was caught"
            time.sleep(0.005)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    assert not list((repo_dir / "manifests").glob("*.json")), "killed before its manifest: nothing completed"

    records = service.all_backups()
    assert [(r["note"], r["status"], r["error"]) for r in records] == [("killed", "failed", INTERRUPTED)]
    # The dead process's lock does not block the next backup, which completes and verifies.
    started = time.monotonic()
    record = service.run_backup(None, "after")
    assert record["status"] == "verified" and time.monotonic() - started < 30
    assert service.run_prune()["chunks_deleted"] >= 0
    assert not list(repo_dir.glob("**/.tmp-*"))
    assert db.session.scalar(select(Backup.status).where(Backup.note == "killed")) in ("failed", None)


@pytest.mark.parametrize("schedule, registered", [("0 * * * *", True), ("off", False), ("OFF", False)])
def test_schedule_registers_backup_verify_prune(make_app, schedule, registered):
    from app.backups.jobs import scheduled_backup_job

    app = make_app(BACKUP_SCHEDULE=schedule)
    from app.backups.jobs import register_schedule

    app.extensions["beacon_schedule"] = []
    register_schedule(app)
    entries = app.extensions["beacon_schedule"]
    assert bool(entries) is registered
    if registered:
        assert entries[0]["func"] is scheduled_backup_job and entries[0]["cron"] == schedule


def test_scheduled_job_backs_up_and_prunes(app, factory, repo_dir):
    from app.backups.jobs import scheduled_backup_job
    from app.worker import set_job_app

    populate(factory)
    service.run_backup(None, "older")
    db.session.commit()
    set_job_app(app)
    try:
        result = scheduled_backup_job()
    finally:
        set_job_app(None)
    db.session.expire_all()
    assert result["backup"]["status"] == "verified" and result["backup"]["note"] == "scheduled"
    assert result["prune"]["keep"][0] == result["backup"]["id"]
    assert [r["id"] for r in service.all_backups()] == [result["backup"]["id"]]
    assert os.path.exists(repo_dir / "manifests" / f"{result['backup']['id']}.json")


def test_flask_worker_process_runs_a_queued_backup_from_real_redis(make_app, redis_url, database_url, tmp_path):
    from rq.job import Job

    from app.backups import jobs
    from app.backups.create import queue_backup
    from app.redis_client import get_redis

    app = make_app(REDIS_URL=redis_url, BACKUP_DIR=str(tmp_path / "repository"))
    with app.app_context():
        row = queue_backup("by a worker")
        job = jobs.enqueue(jobs.backup_job, row.id, row.note, None, job_type="backup.create")
        done = flask(["worker", "--burst", "--no-scheduler"],
                     {"REDIS_URL": redis_url, "DATABASE_URL": database_url, "BACKUP_DIR": str(tmp_path / "repository"),
                      "BEACON_INSTANCE_PATH": app.instance_path})
        assert done.returncode == 0, done.stderr
        assert Job.fetch(job.id, connection=get_redis(app)).get_status().value == "finished"
        db.session.expire_all()
        assert db.session.get(Backup, row.id).status == "verified"
        db.session.remove()


def test_worker_killed_mid_backup_leaves_a_failed_backup_and_no_completed_one(make_app, redis_url, database_url,
                                                                              tmp_path):
    """SIGKILL the `flask worker` making the backup (it runs its jobs itself: its pid is in the lock)."""
    from app.backups import jobs
    from app.backups.create import queue_backup
    from app.backups.lock import LOCK_NAME, read_holder

    repo = tmp_path / "repository"
    app = make_app(REDIS_URL=redis_url, BACKUP_DIR=str(repo))
    with app.app_context():
        with db.engine.begin() as connection:
            bulk_load(connection, issues=30_000, events=30_000, comments=0)
        row = queue_backup("killed in a worker")
        jobs.enqueue(jobs.backup_job, row.id, row.note, None, job_type="backup.create")
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "worker", "--no-scheduler"], cwd=ROOT,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "REDIS_URL": redis_url, "DATABASE_URL": database_url,
                 "BACKUP_DIR": str(repo), "BEACON_INSTANCE_PATH": app.instance_path, "EMBEDDED_WORKER": "0"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not ((repo / "locks" / LOCK_NAME).exists() and list((repo / "chunks").glob("*/*"))):
                assert worker.poll() is None and time.monotonic() < deadline, "the backup was not caught mid-way"
                time.sleep(0.005)
            assert read_holder(repo / "locks" / LOCK_NAME)["pid"] == worker.pid
        finally:
            worker.kill()
            worker.wait(20)
        assert not list((repo / "manifests").glob("*.json"))
        records = service.all_backups()
        assert [(r["id"], r["status"], r["error"]) for r in records] == [(row.id, "failed", INTERRUPTED)]
        db.session.remove()
