"""Jobs an admin queued run only while that admin is still an active admin: a restore,
prune, verify or backup queued by someone deactivated or demoted since then fails with a
clear error, audited, and changes nothing."""
import pytest
from sqlalchemy import func, select

from app.backups import service
from app.backups.create import queue_backup
from app.extensions import db
from app.models import AuditEntry, Backup, Issue
from tests.support.backups import populate, repo_dir  # noqa: F401
from tests.test_backups_api import BASE, run_jobs

REFUSED = "no longer an active administrator"


@pytest.mark.parametrize("kind, change", [("restore", {"active": False}), ("prune", {"is_admin": False}),
                                          ("verify", {"is_admin": False}), ("create", {"active": False})])
def test_a_job_whose_admin_lost_the_right_before_it_ran_is_refused(app, client, factory, repo_dir, kind, change):
    admin, _dev, project, _issues = populate(factory)
    other_admin = factory.headers(factory.admin("Other admin"))
    backup_id = service.run_backup(queue_backup().id)["id"]
    factory.issue(project, admin, title="made after the backup")  # a restore would take it away
    headers = factory.headers(admin)
    url, body = {"restore": (f"{BASE}/{backup_id}/restore", {"confirm": backup_id}),
                 "prune": (f"{BASE}/prune", {"dry_run": False}), "verify": (f"{BASE}/{backup_id}/verify", None),
                 "create": (BASE, {"note": "later"})}[kind]
    queued = client.post(url, json=body, headers=headers)
    assert queued.status_code == 202, queued.json
    assert client.patch(f"/api/v1/admin/users/{admin.id}", json=change, headers=other_admin).status_code == 200
    run_jobs(app)
    answer = client.get(f"/api/v1/admin/jobs/{queued.json['job_id']}", headers=other_admin).json
    assert answer["status"] == "failed" and REFUSED in answer["error"] and "Traceback" not in answer["error"]
    refusals = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "backup.refused")).all()
    assert [(e.actor_id, e.data["job"]) for e in refusals] == [(admin.id, f"backup.{kind}")]
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action.in_(("backup.restore", "backup.prune", "backup.verify")))) == 0
    assert db.session.scalar(select(func.count()).where(Issue.title == "made after the backup")) == 1
    backups = {row.id: row for row in db.session.scalars(select(Backup))}
    assert backups[backup_id].status == "verified"
    if kind == "create":
        made = backups[queued.json["backup"]["id"]]
        assert made.status == "failed" and REFUSED in made.error
    else:
        assert list(backups) == [backup_id]


def test_a_job_of_an_admin_who_still_is_one_runs(app, client, factory, repo_dir):
    admin, _dev, _project, _issues = populate(factory)
    headers = factory.headers(admin)
    queued = client.post(BASE, json={"note": "mine"}, headers=headers)
    run_jobs(app)
    assert client.get(f"/api/v1/admin/jobs/{queued.json['job_id']}", headers=headers).json["status"] == "succeeded"
    assert db.session.get(Backup, queued.json["backup"]["id"]).status == "verified"
