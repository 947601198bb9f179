"""No batch runs forever: an operation's unexpected error is that operation's failure,
and a batch whose runs keep ending in an error is closed ``failed`` after
``BATCH_MAX_ATTEMPTS`` runs. Runs go through a real RQ worker and the reaper."""
import logging
from datetime import timedelta

import pytest

from tests.conftest import scalar
from tests.support.batches import batches, comment, create  # noqa: F401

HUGE = 10**30  # past 64 bits: SQLite's driver cannot bind it (OverflowError)


@pytest.fixture
def web(factory):
    owner = factory.user("Owner")
    project = factory.project(owner, "WEB")
    return owner, project, factory.headers(owner)


def store(user, operations, mode="best_effort"):
    """Store and queue a batch as submitted, but without validation (as a bug, an old
    release or a hand-edited row could leave one)."""
    from app.batches.service import enqueue
    from app.extensions import db
    from app.models import Batch

    batch = Batch(user_id=user.id, mode=mode, dry_run=False, status="queued", operations=operations,
                  total=len(operations))
    db.session.add(batch)
    db.session.commit()
    enqueue(batch)
    return batch.id


def reap(app):
    """Run the reaper as the schedule would, once the last requeue's grace has passed."""
    from app.batches.jobs import REQUEUED_KEY, reap_batches
    from app.extensions import db
    from app.redis_client import get_redis

    db.session.commit()  # the reaper runs in its own session: hold no lock
    for key in get_redis(app).keys(REQUEUED_KEY.format(id="*")):
        get_redis(app).delete(key)
    return reap_batches()


def names(batch_id):
    from app.extensions import db
    from sqlalchemy import text

    rows = db.session.execute(text('SELECT operation FROM batch_results WHERE batch_id = :id ORDER BY "index"'),
                              {"id": batch_id}).scalars().all()
    db.session.commit()
    return rows


def test_operations_stored_without_validation_fail_alone_in_best_effort(batches, web, factory):
    owner, project, headers = web
    kept = factory.issue(project, owner, title="kept")
    ops = [create("first", lid="a"),
           {"op": "update", "resource": "issue", "id": HUGE, "data": {"title": "x"}},
           {"op": "delete", "resource": "issue", "id": HUGE},
           comment("on nothing", issue_id=HUGE),
           create("assigned past 64 bits", assignee_id=HUGE),
           create(None),  # the bulk write fails; one at a time, its flush fails alone
           {"op": "delete", "resource": "comment", "id": kept.id},  # no such kind: must not delete issue `kept`
           "not an operation",
           {"op": "update", "resource": "issue", "id": kept.id},  # no data
           comment("on first", issue_lid="a"),
           create("last")]
    batch_id = store(owner, ops)
    batches.work()
    batch, results = batches.get(headers, batch_id)
    assert [r["status"] for r in results] == ["succeeded"] + ["failed"] * 8 + ["succeeded"] * 2
    assert batch["status"] == "partially_succeeded"
    assert (batch["done"], batch["succeeded"], batch["failed"]) == (11, 3, 8)
    assert all(r["error"] for r in results[1:9])
    assert "Traceback" not in str(results) and "Overflow" not in str(results)
    assert "Not an operation a batch runs" in results[6]["error"] and "Not an operation" in results[7]["error"]
    assert scalar("SELECT title FROM issues WHERE id = :id", id=kept.id) == "kept"
    assert scalar("SELECT COUNT(*) FROM issues") == 3 and scalar("SELECT COUNT(*) FROM comments") == 1
    assert scalar("SELECT MAX(number) FROM issues") == 3  # no number used by a failure
    assert scalar("SELECT COUNT(*) FROM events") == scalar("SELECT MAX(seq) FROM events") == 5  # nor a seq
    assert names(batch_id)[5:8] == ["issue.create", "unknown", "unknown"]


def test_an_operation_stored_without_validation_fails_an_atomic_batch_alone(batches, web):
    owner, _project, headers = web
    batch_id = store(owner, [create("a"), {"op": "delete", "resource": "issue", "id": HUGE}, create("b")], "atomic")
    batches.work()
    batch, results = batches.get(headers, batch_id)
    assert batch["status"] == "failed" and (batch["succeeded"], batch["failed"]) == (0, 1)
    assert [r["status"] for r in results] == ["skipped", "failed", "skipped"]
    assert all("rolled back" in results[i]["error"] for i in (0, 2)) and results[1]["error"]
    assert scalar("SELECT COUNT(*) FROM issues") == 0 and scalar("SELECT COUNT(*) FROM events") == 1


@pytest.mark.parametrize("mode", ["best_effort", "atomic"])
def test_an_unexpected_error_in_one_operation_is_that_operations_failure(batches, web, monkeypatch, caplog, mode):
    from app.batches.operations import UNEXPECTED
    from app.comments import service

    _owner, _project, headers = web
    real_record = service.record_event

    def bug_after_the_comment_was_written(project, type_, actor_id, data):
        real_record(project, type_, actor_id, data)
        if data["comment"]["body"] == "boom":
            raise RuntimeError("a bug")

    monkeypatch.setattr(service, "record_event", bug_after_the_comment_was_written)
    ops = [create("a", lid="a"), comment("fine", issue_lid="a"), comment("boom", issue_lid="a"),
           comment("also fine", issue_lid="a")]
    with caplog.at_level(logging.ERROR, logger="app.batches.operations"):
        batch, results = batches.run(headers, ops, mode=mode)
    assert results[2] == {"index": 2, "status": "failed", "error": UNEXPECTED}
    assert "RuntimeError: a bug" in caplog.text  # the log keeps what the result does not say
    if mode == "best_effort":
        assert batch["status"] == "partially_succeeded" and [r["status"] for r in results] == [
            "succeeded", "succeeded", "failed", "succeeded"]
        assert scalar("SELECT COUNT(*) FROM comments") == 2 and scalar("SELECT MAX(seq) FROM events") == 4
    else:
        assert batch["status"] == "failed" and [r["status"] for r in results] == [
            "skipped", "skipped", "failed", "skipped"]
        assert scalar("SELECT COUNT(*) FROM comments") == 0 and scalar("SELECT COUNT(*) FROM issues") == 0


def crash_on_second_chunk(monkeypatch, runs, times=None):
    """Make runs fail at the start of the batch's second chunk (a bug outside any one
    operation), ``times`` times (default: always); ``runs`` counts the crashes."""
    from app.batches import operations

    real_apply = operations.Applier.apply

    def apply(self, indexes):
        if indexes.start == 2 and (times is None or len(runs) < times):
            runs.append(indexes.start)
            raise RuntimeError("worker bug")
        return real_apply(self, indexes)

    monkeypatch.setattr(operations.Applier, "apply", apply)


def test_a_batch_whose_runs_keep_ending_in_an_error_is_failed_after_max_attempts(batches, web, app, monkeypatch):
    from rq.registry import ScheduledJobRegistry

    from app.batches.jobs import ATTEMPTS_KEY
    from app.redis_client import get_redis
    from app.worker import get_queue

    _owner, _project, headers = web
    monkeypatch.setitem(app.config, "BATCH_CHUNK_SIZE", 2)
    assert app.config["BATCH_MAX_ATTEMPTS"] == 3
    batch_id = batches.post(headers, [create(f"t{i}") for i in range(5)]).json["id"]
    runs = []
    crash_on_second_chunk(monkeypatch, runs)
    batches.work()
    assert batches.get(headers, batch_id)[0]["status"] == "running" and len(runs) == 1
    assert ScheduledJobRegistry(queue=get_queue(app)).count == 0  # no retry of RQ's own beside the reaper's
    for _ in range(4):
        reap(app)
        batches.work()
    assert len(runs) == 3 and reap(app) == []
    batch, results = batches.get(headers, batch_id)
    assert batch["status"] == "failed" and (batch["succeeded"], batch["failed"], batch["done"]) == (2, 0, 5)
    assert [r["status"] for r in results] == ["succeeded"] * 2 + ["skipped"] * 3
    assert all(r["error"] == "Not applied: the batch was stopped after 3 runs that ended in an error."
               for r in results[2:])
    assert scalar("SELECT COUNT(*) FROM issues") == 2
    assert not get_redis(app).exists(ATTEMPTS_KEY.format(id=batch_id))  # a reused id starts afresh


def test_a_batch_whose_runner_keeps_dying_is_failed_after_max_attempts(batches, web, app, monkeypatch):
    from app.batches.jobs import ATTEMPTS_KEY, run_batch
    from app.redis_client import get_redis

    _owner, _project, headers = web
    monkeypatch.setitem(app.config, "BATCH_MAX_ATTEMPTS", 2)
    batch_id = batches.post(headers, [create("a"), create("b")], mode="atomic").json["id"]
    get_redis(app).set(ATTEMPTS_KEY.format(id=batch_id), 2)  # two runs started, and neither ended
    assert run_batch(batch_id) == "gave up"
    batch, results = batches.get(headers, batch_id)
    assert batch["status"] == "failed" and [r["status"] for r in results] == ["skipped", "skipped"]
    assert "after 2 runs" in results[0]["error"] and scalar("SELECT COUNT(*) FROM issues") == 0


def test_a_batch_whose_first_run_failed_before_it_started_is_queued_again(batches, web, app, monkeypatch):
    from app.batches import runner
    from app.extensions import db
    from app.models import Batch
    from app.models.base import utcnow

    _owner, _project, headers = web
    batch_id = batches.post(headers, [create("a")]).json["id"]
    real_run, failures = runner.Runner.run, []

    def database_blip_once(self):
        if not failures:
            failures.append(self.batch_id)
            raise ConnectionError("the database went away")
        return real_run(self)

    monkeypatch.setattr(runner.Runner, "run", database_blip_once)
    batches.work()
    assert batches.get(headers, batch_id)[0]["status"] == "queued"
    db.session.get(Batch, batch_id).created_at = utcnow() - timedelta(minutes=1)
    assert reap(app) == [batch_id]
    batches.work()
    assert batches.get(headers, batch_id)[0]["status"] == "succeeded"


def test_retried_runs_leave_the_bulk_operation_analytics_exact(batches, web, app, client, monkeypatch):
    _owner, _project, headers = web
    monkeypatch.setitem(app.config, "BATCH_CHUNK_SIZE", 2)
    batch_id = batches.post(headers, [create(f"t{i}") for i in range(5)] + [comment("c", issue_id=999)]).json["id"]
    runs = []
    crash_on_second_chunk(monkeypatch, runs, times=2)
    batches.work()
    for _ in range(2):
        reap(app)
        batches.work()
    assert len(runs) == 2 and batches.get(headers, batch_id)[0]["status"] == "partially_succeeded"
    stats = client.get("/api/v1/analytics/bulk-operations", headers=headers,
                       environ_base={"HTTP_CACHE_CONTROL": "no-cache"}).json
    assert stats["batches"]["count"] == 1 and stats["batches"]["operations"] == 6
    assert (stats["batches"]["succeeded"], stats["batches"]["failed"]) == (5, 1)
    assert {o["operation"]: (o["count"], o["succeeded"], o["failed"]) for o in stats["by_operation"]} == {
        "issue.create": (5, 5, 0), "comment.create": (1, 0, 1)}
    assert stats["trend"][-1]["batches"] == 1 and stats["trend"][-1]["operations"] == 6
    assert scalar("SELECT COUNT(*) FROM batch_results") == 6 and scalar("SELECT COUNT(*) FROM issues") == 5
