"""Batches: atomic, best effort, lids, dry runs, idempotency and cancel, on both engines."""
import pytest

from tests.conftest import scalar
from tests.support.batches import batches, comment, create  # noqa: F401
from tests.support.commits import replace_broadcast  # noqa: F401


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


def test_atomic_batch_whose_operation_9999_of_10000_fails_commits_nothing(batches, web, client):
    _owner, _project, headers = web
    before = counts()
    ops = [create(f"t{i}", labels=["bulk"]) for i in range(10_000)]
    ops[9998] = create("bad", assignee_id=999999)
    batch_id = batches.post(headers, ops, mode="atomic").json["id"]
    batches.work()
    batch = client.get(f"/api/v1/batches/{batch_id}", headers=headers).json
    assert batch["status"] == "failed" and (batch["succeeded"], batch["failed"], batch["done"]) == (0, 1, 10_000)
    assert counts() == before  # issues, comments, events, labels, status changes
    assert scalar("SELECT last_issue_number FROM projects") == 0 and scalar("SELECT last_event_seq FROM projects") == 1
    assert "assignee" in scalar("SELECT error FROM batch_results WHERE status = 'failed' AND \"index\" = 9998")
    assert scalar("SELECT COUNT(*) FROM batch_results WHERE status = 'skipped' AND error LIKE '%rolled back%'") == 9999


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


def test_idempotency_key_returns_the_same_batch_and_refuses_another_body(batches, web, factory):
    _owner, _project, headers = web
    body = {"mode": "best_effort", "operations": [create("once")]}
    keyed = {**headers, "Idempotency-Key": "abc-1"}
    first = batches.post(keyed, body=body)
    assert first.status_code == 202 and first.json["status"] == "queued" and first.json["total"] == 1
    assert first.json["url"] == f"/api/v1/batches/{first.json['id']}"
    reordered = {"operations": [create("once")], "dry_run": False, "mode": "best_effort"}
    again = batches.post(keyed, body=reordered)
    assert again.status_code == 200 and again.json["id"] == first.json["id"]
    spelled = {**body, "operations": [create("once", description="", status="open", priority="medium", labels=[],
                                             assignee_id=None)]}
    assert batches.post(keyed, body=spelled).json["id"] == first.json["id"]  # the defaults, spelled out
    other = batches.post(keyed, body={**body, "mode": "atomic"})
    assert other.status_code == 422 and "Idempotency-Key" in other.json["errors"]
    # another user's key is another key
    stranger = factory.headers(factory.member(web[1], factory.user()))
    assert batches.post({**stranger, "Idempotency-Key": "abc-1"}, body=body).status_code == 202
    assert scalar("SELECT COUNT(*) FROM batches") == 2
    batches.work()
    assert scalar("SELECT COUNT(*) FROM issues") == 2
    assert batches.post(keyed, body=body).json["id"] == first.json["id"]  # still the same after it ran


def test_idempotency_key_expires_after_a_day(batches, web):
    from app.extensions import db
    from app.models import Batch
    from app.models.base import utcnow
    from datetime import timedelta

    _owner, _project, headers = web
    keyed = {**headers, "Idempotency-Key": "k"}
    body = {"mode": "best_effort", "operations": [create("x")]}
    first = batches.post(keyed, body=body).json["id"]
    db.session.get(Batch, first).created_at = utcnow() - timedelta(hours=25)
    db.session.commit()
    second = batches.post(keyed, body=body)
    assert second.status_code == 202 and second.json["id"] != first


def test_cancel_between_chunks_keeps_what_committed(batches, web, app, client, monkeypatch):
    from app.realtime import broadcast

    _owner, _project, headers = web
    monkeypatch.setitem(app.config, "BATCH_CHUNK_SIZE", 10)
    batch_id = batches.post(headers, [create(f"t{i}") for i in range(35)]).json["id"]
    answers = []
    real = broadcast.batch_progress

    def cancel_after_first_chunk(batch, user_id):
        if not answers:
            answers.append(client.post(f"/api/v1/batches/{batch_id}/cancel", headers=headers))
        real(batch, user_id)

    monkeypatch.setattr(broadcast, "batch_progress", cancel_after_first_chunk)
    batches.work()
    assert answers[0].status_code == 202
    batch, results = batches.get(headers, batch_id)
    assert batch["status"] == "cancelled" and (batch["succeeded"], batch["failed"]) == (10, 0)
    assert [r["status"] for r in results] == ["succeeded"] * 10 + ["skipped"] * 25
    assert all("cancelled" in r["error"] for r in results[10:])
    assert scalar("SELECT COUNT(*) FROM issues") == 10 and scalar("SELECT COUNT(*) FROM events") == 11
    assert client.post(f"/api/v1/batches/{batch_id}/cancel", headers=headers).status_code == 409


def test_cancel_before_it_runs_skips_everything(batches, web, client):
    _owner, _project, headers = web
    batch_id = batches.post(headers, [create("a"), create("b")], mode="atomic").json["id"]
    response = client.post(f"/api/v1/batches/{batch_id}/cancel", headers=headers)
    assert response.status_code == 202 and response.json["status"] == "queued"
    batches.work()
    batch, results = batches.get(headers, batch_id)
    assert batch["status"] == "cancelled" and [r["status"] for r in results] == ["skipped", "skipped"]
    assert scalar("SELECT COUNT(*) FROM issues") == 0


def test_each_operation_runs_with_the_submitters_permissions(batches, factory):
    owner, outsider = factory.user("Owner"), factory.user("Outsider")
    web = factory.project(owner, "WEB")
    api = factory.project(outsider, "API")
    secret = factory.issue(api, outsider, title="secret plans")
    viewer_of_api = factory.user("Viewer")
    factory.member(web, viewer_of_api, "member")
    factory.member(api, viewer_of_api, "viewer")
    member_only = factory.user("Member")
    factory.member(web, member_only, "member")
    mine = factory.issue(web, owner, title="mine")
    ops = [create("ok"), create("nope", project="API"),
           {"op": "update", "resource": "issue", "id": secret.id, "data": {"title": "pwned"}},
           comment("sneaky", issue_id=secret.id), {"op": "delete", "resource": "issue", "id": mine.id}]
    batch, results = batches.run(factory.headers(viewer_of_api), ops)
    assert [r["status"] for r in results] == ["succeeded", "failed", "failed", "failed", "failed"]
    assert "member role in project API" in results[1]["error"] and "maintainer" in results[4]["error"]
    assert "member role" in results[2]["error"]
    batch, results = batches.run(factory.headers(member_only), ops[1:4])
    assert [r["status"] for r in results] == ["failed"] * 3
    # a caller who cannot read API learns nothing about it: the same words as a missing one
    assert all("does not exist or is not visible" in r["error"] for r in results)
    assert "secret" not in str(results) and "API" not in str(results[1:])
    assert scalar("SELECT title FROM issues WHERE id = :id", id=secret.id) == "secret plans"
    assert scalar("SELECT COUNT(*) FROM comments") == 0 and scalar("SELECT COUNT(*) FROM issues") == 3


def test_update_with_stale_if_version_and_delete(batches, web, factory):
    owner, project, headers = web
    issue = factory.issue(project, owner, title="v1")
    ops = [{"op": "update", "resource": "issue", "id": issue.id, "data": {"title": "v2"}, "if_version": 1},
           {"op": "update", "resource": "issue", "id": issue.id, "data": {"title": "v3"}, "if_version": 1},
           {"op": "delete", "resource": "issue", "id": issue.id},
           {"op": "delete", "resource": "issue", "id": issue.id}]
    batch, results = batches.run(headers, ops)
    assert [r["status"] for r in results] == ["succeeded", "failed", "succeeded", "failed"]
    assert "version 2, not 1" in results[1]["error"]
    assert scalar("SELECT COUNT(*) FROM issues") == 0
    types = [scalar("SELECT type FROM events WHERE seq = :s", s=s) for s in (3, 4)]
    assert types == ["issue.updated", "issue.deleted"] and scalar("SELECT MAX(seq) FROM events") == 4


def test_lid_of_a_failed_create_fails_what_refers_to_it(batches, web):
    _owner, _project, headers = web
    batch, results = batches.run(headers, [create("x", project="NOPE", lid="a"), comment("c", issue_lid="a"),
                                           {"op": "delete", "resource": "issue", "lid": "a"}])
    assert batch["status"] == "failed" and [r["status"] for r in results] == ["failed"] * 3
    assert "lid 'a' did not succeed" in results[1]["error"]


def test_listing_and_visibility(batches, web, factory, client):
    _owner, project, headers = web
    other = factory.headers(factory.member(project, factory.user()))
    admin = factory.headers(factory.admin())
    mine = [batches.post(headers, [create(f"m{i}")]).json["id"] for i in range(3)]
    theirs = batches.post(other, [create("o")]).json["id"]
    page = client.get("/api/v1/batches?limit=2", headers=headers).json
    assert [b["id"] for b in page["items"]] == mine[::-1][:2] and page["next_cursor"]
    rest = client.get(f"/api/v1/batches?limit=2&cursor={page['next_cursor']}", headers=headers).json
    assert [b["id"] for b in rest["items"]] == [mine[0]] and rest["next_cursor"] is None
    assert [b["id"] for b in client.get("/api/v1/batches", headers=admin).json["items"]] == [theirs, *mine[::-1]]
    for url in (f"/api/v1/batches/{theirs}", f"/api/v1/batches/{theirs}/results"):
        assert client.get(url, headers=headers).status_code == 404
        assert client.get(url, headers=admin).status_code == 200
    assert client.post(f"/api/v1/batches/{theirs}/cancel", headers=headers).status_code == 404
    record = client.get(f"/api/v1/batches/{mine[0]}", headers=headers).json
    assert record["status"] == "queued" and record["started_at"] is None and record["done"] == 0
    assert set(record) == {"id", "mode", "dry_run", "status", "total", "done", "succeeded", "failed",
                           "created_at", "started_at", "finished_at", "duration_ms"}


def test_finished_batches_feed_the_bulk_operation_analytics(batches, web, client):
    _owner, _project, headers = web
    batches.run(headers, [create("a"), create("b", project="NOPE"), comment("c", issue_id=999)])
    batches.run(headers, [create("c")], mode="atomic")
    stats = client.get("/api/v1/analytics/bulk-operations", headers=headers,
                       environ_base={"HTTP_CACHE_CONTROL": "no-cache"}).json
    assert stats["batches"]["count"] == 2 and stats["batches"]["operations"] == 4
    assert (stats["batches"]["succeeded"], stats["batches"]["failed"]) == (2, 2)
    assert stats["batches"]["p50_ms"] is not None
    by_op = {o["operation"]: (o["count"], o["succeeded"], o["failed"]) for o in stats["by_operation"]}
    assert by_op == {"issue.create": (3, 2, 1), "comment.create": (1, 0, 1)}
    assert [m["mode"] for m in stats["by_mode"]] == ["atomic", "best_effort"]


def test_only_committed_events_are_broadcast_once_per_chunk(batches, web, monkeypatch, replace_broadcast):
    from app.errors import Problem
    from app.issues import service

    _owner, _project, headers = web
    sent = []
    replace_broadcast(lambda payloads: sent.append([(e["type"], e["seq"]) for e in payloads]))
    real_record = service.record_event

    def record_then_fail(project, type_, actor_id, data):
        real_record(project, type_, actor_id, data)
        if data["issue"]["title"] == "boom":
            raise Problem(409, "injected after the event was written")

    monkeypatch.setattr(service, "record_event", record_then_fail)
    update = {"op": "update", "resource": "issue", "lid": "a"}
    ops = [create("a", lid="a"), comment("c", issue_lid="a"), {**update, "data": {"title": "boom"}},
           comment("bad", issue_id=99999), {**update, "data": {"title": "fine"}}]
    batch, results = batches.run(headers, ops)
    assert [r["status"] for r in results] == ["succeeded", "succeeded", "failed", "failed", "succeeded"]
    assert results[2]["error"] == "injected after the event was written"
    assert sent == [[("issue.created", 2), ("comment.created", 3), ("issue.updated", 4)]]
    assert scalar("SELECT title FROM issues") == "fine" and scalar("SELECT MAX(seq) FROM events") == 4
    sent.clear()
    batches.run(headers, [create("x", lid="x"), comment("y", issue_lid="x")], dry_run=True)
    assert sent == [] and scalar("SELECT MAX(seq) FROM events") == 4


def test_responses_match_their_documented_schemas(batches, web, client):
    from app.batches.routes import BatchPage, ResultPage
    from app.batches.schemas import BatchAccepted, BatchOutput

    _owner, _project, headers = web
    accepted = batches.post(headers, [create("a"), create("b", project="NOPE")]).json
    batches.work()
    checks = [(BatchAccepted, accepted), (BatchOutput, client.get(accepted["url"], headers=headers).json),
              (BatchPage, client.get("/api/v1/batches", headers=headers).json),
              (ResultPage, client.get(f"{accepted['url']}/results", headers=headers).json)]
    for schema, body in checks:
        schema().load(body)
        assert set(body) == set(schema().fields), schema
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"/api/v1/batches", "/api/v1/batches/{batch_id}", "/api/v1/batches/{batch_id}/results",
            "/api/v1/batches/{batch_id}/cancel"} <= set(paths)


def test_the_reaper_queues_again_a_batch_whose_job_was_lost(batches, web, app):
    from datetime import timedelta

    from app.batches.jobs import reap_batches
    from app.extensions import db
    from app.models import Batch
    from app.models.base import utcnow
    from app.worker import get_queue

    _owner, _project, headers = web
    batch_id = batches.post(headers, [create("lost")]).json["id"]
    job_id = db.session.get(Batch, batch_id).job_id
    db.session.commit()  # the reaper runs in its own session: hold no lock
    get_queue(app).fetch_job(job_id).delete()  # Redis lost the job
    assert reap_batches() == []  # too recent: its job may still be on its way
    db.session.get(Batch, batch_id).created_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert reap_batches() == [batch_id]
    assert reap_batches() == []  # not twice while the new job waits
    batches.work()
    batch, results = batches.get(headers, batch_id)
    assert batch["status"] == "succeeded" and scalar("SELECT COUNT(*) FROM issues") == 1


def test_reading_batches_leaves_their_operations_in_the_database(batches, web, client):
    from sqlalchemy import event

    from app.extensions import db

    _owner, _project, headers = web
    batch, _results = batches.run(headers, [create(f"t{i}") for i in range(3)])
    statements = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert client.get("/api/v1/batches", headers=headers).json["items"][0]["id"] == batch["id"]
        assert client.get(f"/api/v1/batches/{batch['id']}", headers=headers).json["total"] == 3
        assert client.post(f"/api/v1/batches/{batch['id']}/cancel", headers=headers).status_code == 409
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    batch_reads = [s for s in statements if "FROM batches" in s]
    assert batch_reads and not any("batches.operations" in s for s in batch_reads)
