"""Batches run with their submitter's rights as they stand before each chunk: a deactivated
submitter's batches are cancelled (the rest skipped, saying why), also when the reaper
resumes them, and a demotion holds from the next chunk on."""
import pytest
from sqlalchemy import text

from app.batches.operations import DEACTIVATED
from tests.conftest import scalar
from tests.support.batches import batches, create  # noqa: F401
from tests.test_batches_robust import crash_on_second_chunk, reap


@pytest.fixture
def team(factory):
    """An admin, and a member of WEB with their headers."""
    admin = factory.admin("Admin")
    project = factory.project(admin, "WEB")
    member = factory.member(project, factory.user("Member"), "member")
    return admin, member, factory.headers(member)


def between_chunks(monkeypatch, sql, **params):
    """Run ``sql`` on a connection of its own after the first chunk, as another request would."""
    from app.extensions import db
    from app.realtime import broadcast

    real, done = broadcast.batch_progress, []

    def then_change(batch, user_id):
        real(batch, user_id)
        if not done:
            done.append(batch["done"])
            with db.engine.begin() as connection:
                connection.execute(text(sql), params)

    monkeypatch.setattr(broadcast, "batch_progress", then_change)
    return done


def test_deactivating_a_user_cancels_their_unfinished_batches(batches, team, client, factory):
    admin, member, headers = team
    finished = batches.run(headers, [create("before")])[0]["id"]
    atomic = batches.post(headers, [create("a1"), create("a2")], mode="atomic").json["id"]
    best_effort = batches.post(headers, [create("b1"), create("b2")]).json["id"]
    other = batches.post(factory.headers(factory.member(factory.project(admin, "OPS"), factory.user(), "member")),
                         [create("theirs", project="OPS")]).json["id"]
    response = client.patch(f"/api/v1/admin/users/{member.id}", json={"active": False}, headers=factory.headers(admin))
    assert response.status_code == 200
    flags = dict(scalar_rows("SELECT id, cancel_requested FROM batches"))
    assert {k: bool(v) for k, v in flags.items()} == {finished: False, atomic: True, best_effort: True, other: False}
    batches.work()
    for batch_id in (atomic, best_effort):
        batch, results = batches.get(factory.headers(admin), batch_id)
        assert batch["status"] == "cancelled" and (batch["succeeded"], batch["done"]) == (0, 2)
        assert results == [{"index": i, "status": "skipped", "error": DEACTIVATED} for i in range(2)]
    assert batches.get(factory.headers(admin), other)[0]["status"] == "succeeded"
    assert scalar("SELECT COUNT(*) FROM issues WHERE reporter_id = :id", id=member.id) == 1


def scalar_rows(sql):
    from app.extensions import db

    rows = db.session.execute(text(sql)).all()
    db.session.commit()
    return rows


def run_deactivated_between_chunks(batches, team, factory, app, monkeypatch, mode):
    admin, member, headers = team
    monkeypatch.setitem(app.config, "BATCH_CHUNK_SIZE", 2)
    changed = between_chunks(monkeypatch, "UPDATE users SET active = false WHERE id = :id", id=member.id)
    batch_id = batches.post(headers, [create(f"t{i}") for i in range(6)], mode=mode).json["id"]
    batches.work()
    batch, results = batches.get(factory.headers(admin), batch_id)
    assert changed == [2] and batch["status"] == "cancelled"
    return results


def test_a_submitter_deactivated_between_chunks_is_stopped_at_the_next_chunk(batches, team, factory, app, monkeypatch):
    results = run_deactivated_between_chunks(batches, team, factory, app, monkeypatch, "best_effort")
    assert [r["status"] for r in results] == ["succeeded"] * 2 + ["skipped"] * 4
    assert all(r["error"] == DEACTIVATED for r in results[2:]) and scalar("SELECT COUNT(*) FROM issues") == 2


@pytest.mark.backends("postgresql")  # an atomic run holds SQLite's write lock: nobody changes anyone meanwhile
def test_an_atomic_batch_whose_submitter_is_deactivated_midway_commits_nothing(batches, team, factory, app,
                                                                              monkeypatch):
    results = run_deactivated_between_chunks(batches, team, factory, app, monkeypatch, "atomic")
    assert results == [{"index": i, "status": "skipped", "error": DEACTIVATED} for i in range(6)]
    assert scalar("SELECT COUNT(*) FROM issues") == 0


def test_the_reaper_does_not_resume_a_deactivated_submitters_batch(batches, team, factory, app, monkeypatch):
    from app.extensions import db

    admin, member, headers = team
    monkeypatch.setitem(app.config, "BATCH_CHUNK_SIZE", 2)
    batch_id = batches.post(headers, [create(f"t{i}") for i in range(5)]).json["id"]
    crash_on_second_chunk(monkeypatch, [], times=1)
    batches.work()
    with db.engine.begin() as connection:  # not through the admin API: no cancel request, only the row
        connection.execute(text("UPDATE users SET active = false WHERE id = :id"), {"id": member.id})
    assert reap(app) == [batch_id]
    batches.work()
    batch, results = batches.get(factory.headers(admin), batch_id)
    assert batch["status"] == "cancelled" and [r["status"] for r in results] == ["succeeded"] * 2 + ["skipped"] * 3
    assert results[2]["error"] == DEACTIVATED and scalar("SELECT COUNT(*) FROM issues") == 2


def run_demoted_between_chunks(batches, team, factory, app, monkeypatch, demotion, mode):
    """Four creates in chunks of two; after the first chunk the submitter is demoted."""
    admin, member, _headers = team
    monkeypatch.setitem(app.config, "BATCH_CHUNK_SIZE", 2)
    if demotion == "viewer":
        submitter, needs = member, "member role"
        sql = "UPDATE memberships SET role = 'viewer' WHERE user_id = :id"
    else:
        submitter, needs = factory.admin("Other admin"), "does not exist or is not visible"  # not a member of WEB
        sql = "UPDATE users SET is_admin = false WHERE id = :id"
    between_chunks(monkeypatch, sql, id=submitter.id)
    batch, results = batches.run(factory.headers(submitter), [create(f"t{i}") for i in range(4)], mode=mode)
    assert needs in results[2]["error"]
    return batch, results


@pytest.mark.parametrize("demotion", ["viewer", "no longer admin"])
def test_a_demotion_between_chunks_holds_from_the_next_chunk(batches, team, factory, app, monkeypatch, demotion):
    batch, results = run_demoted_between_chunks(batches, team, factory, app, monkeypatch, demotion, "best_effort")
    assert batch["status"] == "partially_succeeded"
    assert [r["status"] for r in results] == ["succeeded"] * 2 + ["failed"] * 2
    assert scalar("SELECT COUNT(*) FROM issues") == 2


@pytest.mark.backends("postgresql")  # an atomic run holds SQLite's write lock: nobody changes anyone meanwhile
@pytest.mark.parametrize("demotion", ["viewer", "no longer admin"])
def test_a_demotion_during_an_atomic_batch_holds_from_the_next_chunk(batches, team, factory, app, monkeypatch,
                                                                     demotion):
    batch, results = run_demoted_between_chunks(batches, team, factory, app, monkeypatch, demotion, "atomic")
    assert batch["status"] == "failed"
    assert [r["status"] for r in results] == ["skipped", "skipped", "failed", "skipped"]
    assert scalar("SELECT COUNT(*) FROM issues") == 0


@pytest.mark.backends("postgresql")  # on SQLite every writer waits for an atomic run's write lock
def test_deactivating_a_user_does_not_wait_for_their_running_atomic_batch(batches, team, factory, app, monkeypatch):
    import threading
    import time

    from app.realtime import broadcast

    admin, member, headers = team
    admin_headers = factory.headers(admin)
    monkeypatch.setitem(app.config, "BATCH_CHUNK_SIZE", 2)
    real, answers = broadcast.batch_progress, {}

    def deactivate_from_another_request(batch, user_id):
        real(batch, user_id)
        if not answers:  # inside the atomic run's transaction, which holds the batch's row
            def patch():
                with app.app_context():
                    answers["response"] = app.test_client().patch(f"/api/v1/admin/users/{member.id}",
                                                                  json={"active": False}, headers=admin_headers)

            thread = threading.Thread(target=patch)
            started = time.monotonic()
            thread.start()
            thread.join(10)
            answers["waited"] = time.monotonic() - started

    monkeypatch.setattr(broadcast, "batch_progress", deactivate_from_another_request)
    batch_id = batches.post(headers, [create(f"t{i}") for i in range(4)], mode="atomic").json["id"]
    batches.work()
    assert answers["waited"] < 5 and answers["response"].status_code == 200
    batch, results = batches.get(admin_headers, batch_id)
    assert batch["status"] == "cancelled" and all(r["error"] == DEACTIVATED for r in results)
    assert scalar("SELECT COUNT(*) FROM issues") == 0
