"""/api/v1/admin/backups: admins only, bad input, and jobs run by a real RQ worker."""
import pytest
from rq.job import Job
from sqlalchemy import func, select

from app.backups import service
from app.extensions import db
from app.models import AuditEntry, Backup, Issue
from app.redis_client import get_redis
from app.worker import get_queue
from tests.support.jobs import run_jobs
from tests.support.backups import chunk_path, flip_byte, populate, repo_dir, table_chunk

__all__ = ["repo_dir"]
BASE = "/api/v1/admin/backups"
ID = "20261122T142301Z-3f9a"


def job(app, job_id):
    return Job.fetch(job_id, connection=get_redis(app))


ENDPOINTS = [
    ("get", BASE, None), ("post", BASE, {"note": "x"}), ("get", f"{BASE}/stats", None),
    ("post", f"{BASE}/prune", {"dry_run": True}), ("get", f"{BASE}/{ID}", None), ("delete", f"{BASE}/{ID}", None),
    ("post", f"{BASE}/{ID}/verify", None), ("post", f"{BASE}/{ID}/restore", {"confirm": ID}),
]


@pytest.mark.parametrize("method, url, body", ENDPOINTS)
@pytest.mark.parametrize("caller, status", [("anonymous", 401), ("bad token", 401), ("user", 403), ("inactive admin", 401)])
def test_only_admins_reach_backup_endpoints(client, factory, repo_dir, method, url, body, caller, status):
    headers = {}
    if caller == "bad token":
        headers = {"Authorization": "Bearer nope"}
    elif caller == "user":
        headers = factory.headers(factory.user())
    elif caller == "inactive admin":
        user = factory.admin()
        headers = factory.headers(user)
        user.active = False
        db.session.commit()
    response = getattr(client, method)(url, json=body, headers=headers)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert db.session.scalar(select(func.count()).select_from(Backup)) == 0
    assert len(get_queue()) == 0


@pytest.fixture
def admin_headers(factory):
    return factory.headers(factory.admin())


@pytest.mark.parametrize("url, body, status, field", [
    (BASE, '{"note": ', 400, None),
    (BASE, {"note": 12}, 422, "note"),
    (BASE, {"note": "n" * 501}, 422, "note"),
    (BASE, {"nope": 1}, 422, "nope"),
    (BASE, [1, 2], 422, "_schema"),
    (f"{BASE}/prune", '{"dry_run": tru', 400, None),
    (f"{BASE}/prune", {"dry_run": "yes"}, 422, "dry_run"),
    (f"{BASE}/prune", {"dry_run": 1}, 422, "dry_run"),
    (f"{BASE}/{ID}/restore", '{"confirm"', 400, None),
    (f"{BASE}/{ID}/restore", {}, 422, "confirm"),
    (f"{BASE}/{ID}/restore", {"confirm": 5}, 422, "confirm"),
    (f"{BASE}/{ID}/restore", {"confirm": "x" * 65}, 422, "confirm"),
    (f"{BASE}/{ID}/restore", {"confirm": ID, "extra": True}, 422, "extra"),
    (f"{BASE}/{ID}/verify", '{"x": ', 400, None),
])
def test_bad_input_is_a_problem_and_changes_nothing(client, admin_headers, repo_dir, url, body, status, field):
    kwargs = {"data": body, "content_type": "application/json"} if isinstance(body, str) else {"json": body}
    response = client.post(url, headers=admin_headers, **kwargs)
    assert response.status_code == status, response.json
    assert response.mimetype == "application/problem+json"
    if field:
        assert field in response.json["errors"]
    assert db.session.scalar(select(func.count()).select_from(Backup)) == 0
    assert len(get_queue()) == 0


@pytest.mark.parametrize("method, suffix, body", [
    ("get", "", None), ("delete", "", None), ("post", "/verify", None), ("post", "/restore", {"confirm": ID}),
])
@pytest.mark.parametrize("backup_id", [ID, "nope", "../../etc", "2" * 60])
def test_unknown_backup_is_404(client, admin_headers, repo_dir, method, suffix, body, backup_id):
    response = getattr(client, method)(f"{BASE}/{backup_id}{suffix}", json=body, headers=admin_headers)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_list_pagination_bounds(client, admin_headers, repo_dir):
    assert client.get(f"{BASE}?limit=0", headers=admin_headers).status_code == 422
    assert client.get(f"{BASE}?limit=201", headers=admin_headers).status_code == 422
    assert client.get(f"{BASE}?cursor=@@", headers=admin_headers).status_code == 422


def test_backup_verify_restore_prune_through_the_api_and_a_worker(app, client, factory, repo_dir, monkeypatch):
    from app.realtime import broadcast

    announced = []
    monkeypatch.setattr(broadcast, "emit", lambda name, payload, to: announced.append((name, payload, to)))
    admin, _dev, project, _issues = populate(factory)
    headers = factory.headers(admin)

    started = client.post(BASE, json={"note": "  nightly  "}, headers=headers)
    assert started.status_code == 202
    body = started.json
    assert body["backup"]["status"] == "queued" and body["backup"]["note"] == "nightly"
    run_jobs(app)
    assert job(app, body["job_id"]).get_status().value == "finished"
    record = client.get(f"{BASE}/{body['backup']['id']}", headers=headers).json
    assert record["status"] == "verified" and record["completed_at"] and record["verified_at"]
    assert ("backup.finished", record, "admins") in announced

    # Damage found by a verify job: the job succeeds, its result says what is wrong.
    name = table_chunk(repo_dir, record["id"], "issues")
    flip_byte(chunk_path(repo_dir, name))
    verify = client.post(f"{BASE}/{record['id']}/verify", headers=headers)
    assert verify.status_code == 202
    run_jobs(app)
    verify_job = job(app, verify.json["job_id"])
    assert verify_job.get_status().value == "finished"
    assert verify_job.return_value()["ok"] is False and name in verify_job.return_value()["error"]
    assert client.get(f"{BASE}/{record['id']}", headers=headers).json["status"] == "corrupt"
    flip_byte(chunk_path(repo_dir, name))
    client.post(f"{BASE}/{record['id']}/verify", headers=headers)
    run_jobs(app)
    assert client.get(f"{BASE}/{record['id']}", headers=headers).json["status"] == "verified"

    # Restore: a wrong or missing confirm is 422; the right one brings the data back.
    factory.issue(project, admin, title="after the backup")
    for wrong in ({}, {"confirm": "20261122T142301Z-0000"}, {"confirm": None}):
        response = client.post(f"{BASE}/{record['id']}/restore", json=wrong, headers=headers)
        assert response.status_code == 422 and "confirm" in response.json["errors"]
    assert len(get_queue()) == 0
    restore = client.post(f"{BASE}/{record['id']}/restore", json={"confirm": record["id"]}, headers=headers)
    assert restore.status_code == 202
    run_jobs(app)
    assert job(app, restore.json["job_id"]).get_status().value == "finished"
    assert db.session.scalar(select(Issue).where(Issue.title == "after the backup")) is None
    assert any(name == "backup.restored" for name, _p, _t in announced)
    headers = factory.headers(db.session.get(type(admin), admin.id))  # tokens came back from the snapshot

    listing = client.get(BASE, headers=headers).json["items"]
    assert [b["id"] for b in listing] == sorted((b["id"] for b in listing), reverse=True)
    assert len(listing) == 2 and "safety backup" in listing[0]["note"]
    plan = client.post(f"{BASE}/prune", json={"dry_run": True}, headers=headers)
    assert plan.status_code == 200 and plan.json == {"keep": [listing[0]["id"]], "delete": [record["id"]]}
    assert client.delete(f"{BASE}/{listing[0]['id']}", headers=headers).status_code == 409  # newest verified
    prune = client.post(f"{BASE}/prune", json={}, headers=headers)
    assert prune.status_code == 202 and prune.json["delete"] == [record["id"]]
    run_jobs(app)
    assert client.get(f"{BASE}/{record['id']}", headers=headers).status_code == 404
    stats = client.get(f"{BASE}/stats", headers=headers).json
    assert stats["count"] == 1 and stats["newest_verified"] == listing[0]["id"]
    assert stats["newest_verified_age_seconds"] >= 0 and stats["last_duration_ms"] >= 0
    actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"backup.create", "backup.verify", "backup.restore", "backup.prune"} <= actions


def test_delete_removes_manifest_and_unshared_chunks(client, factory, repo_dir):
    admin, *_ = populate(factory)
    headers = factory.headers(admin)
    old = service.run_backup(None, "old")
    factory.issue(_[1], admin, title="only in the newer backup")
    service.run_backup(None, "new")
    assert client.delete(f"{BASE}/{old['id']}", headers=headers).status_code == 204
    assert client.get(f"{BASE}/{old['id']}", headers=headers).status_code == 404
    assert not (repo_dir / "manifests" / f"{old['id']}.json").exists()
    assert "backup.delete" in set(db.session.scalars(select(AuditEntry.action)))


def test_restore_and_prune_are_409_while_another_holds_the_lock(client, factory, repo_dir):
    from app.backups.configured import repository
    from app.backups.lock import MaintenanceLock

    admin, *_ = populate(factory)
    headers = factory.headers(admin)
    record = service.run_backup(None, None)
    holder = MaintenanceLock(repository(), "restore").acquire()
    try:
        restore = client.post(f"{BASE}/{record['id']}/restore", json={"confirm": record["id"]}, headers=headers)
        prune = client.post(f"{BASE}/prune", json={"dry_run": False}, headers=headers)
        assert restore.status_code == prune.status_code == 409
        assert client.post(f"{BASE}/prune", json={"dry_run": True}, headers=headers).status_code == 200
    finally:
        holder.release()
    assert len(get_queue()) == 0
