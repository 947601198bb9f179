"""Batches: atomic, best effort, lids, dry runs, idempotency and cancel, on both engines."""
import pytest

from tests.conftest import scalar
from tests.support.batches import batches, comment, create  # noqa: F401


@pytest.fixture
def web(factory):
    owner = factory.user("Owner")
    project = factory.project(owner, "WEB")
    return owner, project, factory.headers(owner)


def counts():
    return {t: scalar(f"SELECT COUNT(*) FROM {t}") for t in
            ("issues", "comments", "events", "issue_labels", "issue_status_changes")}


def test_best_effort_creates_with_lids_and_events(batches, web):
    owner, project, headers = web
    ops = [create("first", lid="a", labels=["bug", " bug"], priority="high"), comment("on first", issue_lid="a"),
           create("second", lid="b"), {"op": "update", "resource": "issue", "lid": "b", "data": {"status": "closed"}},
           create("bad", assignee_id=999999), comment("orphan", issue_id=424242)]
    batch, results = batches.run(headers, ops)
    assert batch["status"] == "partially_succeeded"
    assert (batch["total"], batch["done"], batch["succeeded"], batch["failed"]) == (6, 6, 4, 2)
    assert [r["status"] for r in results] == ["succeeded"] * 4 + ["failed"] * 2
    assert "assignee" in results[4]["error"] and "issue" in results[5]["error"]
    first, second = results[0]["id"], results[2]["id"]
    assert scalar("SELECT issue_id FROM comments WHERE id = :id", id=results[1]["id"]) == first
    assert scalar("SELECT status FROM issues WHERE id = :id", id=second) == "closed"
    assert scalar("SELECT resolved_at IS NOT NULL FROM issues WHERE id = :id", id=second)
    assert scalar("SELECT COUNT(*) FROM issue_labels WHERE issue_id = :id", id=first) == 1
    assert scalar("SELECT number FROM issues WHERE id = :id", id=second) == 2
    types = [scalar("SELECT type FROM events WHERE seq = :s", s=s) for s in range(2, 6)]
    assert types == ["issue.created", "comment.created", "issue.created", "issue.updated"]
    assert scalar("SELECT MAX(seq) FROM events") == 5  # no seq used by the failures


def test_atomic_failure_near_the_end_commits_nothing(batches, web, make_app):
    owner, project, headers = web
    before = counts()
    ops = [create(f"t{i}") for i in range(3000)]
    ops[2998] = create("bad", assignee_id=999999)
    batch, results = batches.run(headers, ops, mode="atomic")
    assert batch["status"] == "failed" and (batch["succeeded"], batch["failed"], batch["done"]) == (0, 1, 3000)
    assert counts() == before
    assert scalar("SELECT last_issue_number FROM projects") == 0
    assert results[2998]["status"] == "failed" and "assignee" in results[2998]["error"]
    skipped = [r for r in results if r["status"] == "skipped"]
    assert len(skipped) == 2999 and all("rolled back" in r["error"] for r in skipped)


def test_atomic_success_commits_everything(batches, web):
    _owner, _project, headers = web
    batch, results = batches.run(headers, [create("a", lid="x"), comment("c", issue_lid="x")], mode="atomic")
    assert batch["status"] == "succeeded" and [r["status"] for r in results] == ["succeeded"] * 2
    assert counts()["issues"] == 1 and counts()["comments"] == 1


@pytest.mark.parametrize("mode", ["atomic", "best_effort"])
def test_dry_run_reports_and_commits_nothing(batches, web, mode):
    _owner, _project, headers = web
    before = counts()
    batch, results = batches.run(headers, [create("a", lid="x"), comment("c", issue_lid="x"),
                                           create("b", project="NOPE")], mode=mode, dry_run=True)
    assert counts() == before
    assert batch["dry_run"] is True
    if mode == "atomic":
        assert batch["status"] == "failed"
        assert [r["status"] for r in results] == ["skipped", "skipped", "failed"]
    else:
        assert batch["status"] == "partially_succeeded"
        assert [r["status"] for r in results] == ["succeeded", "succeeded", "failed"]
    assert "does not exist" in results[2]["error"]
