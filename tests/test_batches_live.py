"""Batches across real processes: `flask worker` on real Redis, SIGKILL, cancel, Socket.IO, embedded."""
import signal
import time

import pytest
from sqlalchemy import text

from tests.support.batches import children, comment, create, kill_quietly, start_worker  # noqa: F401
from tests.support.sockets import names, realtime  # noqa: F401


def poll(read, until, timeout=30.0, every=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read()
        if until(value):
            return value
        time.sleep(every)
    raise AssertionError(f"timed out; last value {value!r}")


@pytest.fixture
def live(make_app, redis_url, factory):
    """An app on real Redis (the API side), a project, and a reader of a batch's row."""
    app = make_app(REDIS_URL=redis_url, SOCKETIO_MESSAGE_QUEUE=redis_url)
    with app.app_context():
        owner = factory.user("Owner")
        factory.project(owner, "WEB")
        headers = factory.headers(owner)

    class Live:
        def post(self, body):
            with app.app_context():
                response = app.test_client().post("/api/v1/batches", json=body, headers=headers)
            assert response.status_code == 202, response.get_json()
            return response.json["id"]

        def cancel(self, batch_id):
            with app.app_context():
                return app.test_client().post(f"/api/v1/batches/{batch_id}/cancel", headers=headers)

        def row(self, batch_id):
            from app.extensions import db

            with app.test_request_context():  # a GET: SQLite reads without waiting for the write lock
                row = db.session.execute(text("SELECT status, done, succeeded, failed FROM batches WHERE id = :id"),
                                         {"id": batch_id}).one()
                db.session.remove()
                return row

        def write(self, statement, **params):
            from app.extensions import db

            with app.app_context(), db.engine.begin() as connection:
                connection.execute(text(statement), params)

        def sql(self, query, **params):
            from app.extensions import db

            with app.test_request_context():
                rows = db.session.execute(text(query), params).all()
                db.session.remove()
                return rows

    return Live()


def test_sigkill_mid_batch_then_a_new_worker_applies_each_operation_once(live, start_worker):
    total = 600
    ops = [create("target", lid="t")] + [comment(f"c{i}", issue_lid="t") for i in range(total - 1)]
    batch_id = live.post({"mode": "best_effort", "operations": ops})
    first = start_worker("--no-scheduler", BATCH_CHUNK_SIZE="25")
    row = poll(lambda: live.row(batch_id), lambda r: r.done >= 100)
    horses = children(first.popen.pid)
    first.kill(signal.SIGKILL)  # the worker and its work horse die mid-chunk, as in a crash
    for pid in horses:
        kill_quietly(pid)
    killed_at = live.row(batch_id)
    assert killed_at.status == "running" and 100 <= killed_at.done < total, (row, killed_at)
    start_worker(BATCH_CHUNK_SIZE="25")  # with the scheduler: its reaper finds the abandoned batch
    final = poll(lambda: live.row(batch_id), lambda r: r.status != "running", timeout=60, every=0.2)
    assert tuple(final) == ("succeeded", total, total, 0)
    bodies = live.sql("SELECT body, COUNT(*) FROM comments GROUP BY body HAVING COUNT(*) <> 1")
    assert bodies == [] and live.sql("SELECT COUNT(*) FROM comments")[0][0] == total - 1
    assert live.sql("SELECT COUNT(*) FROM issues")[0][0] == 1
    events = live.sql("SELECT type, COUNT(*), MIN(seq), MAX(seq) FROM events GROUP BY type ORDER BY type")
    assert [tuple(e) for e in events] == [("comment.created", total - 1, 3, total + 1), ("issue.created", 1, 2, 2),
                                          ("project.created", 1, 1, 1)]
    results = live.sql("SELECT status, COUNT(*) FROM batch_results WHERE batch_id = :id GROUP BY status", id=batch_id)
    assert [tuple(r) for r in results] == [("succeeded", total)]


@pytest.mark.parametrize("mode", ["atomic", "best_effort"])
def test_cancel_reaches_a_running_worker_within_a_second(live, start_worker, mode):
    total = 1500
    ops = [create("target", lid="t")] + [comment(f"c{i}", issue_lid="t") for i in range(total - 1)]
    batch_id = live.post({"mode": mode, "operations": ops})
    start_worker("--no-scheduler", BATCH_CHUNK_SIZE="50")
    poll(lambda: live.row(batch_id), lambda r: r.status == "running")
    time.sleep(0.3)
    asked = time.monotonic()
    assert live.cancel(batch_id).status_code == 202
    final = poll(lambda: live.row(batch_id), lambda r: r.status != "running", every=0.02)
    assert time.monotonic() - asked < 1.5
    assert final.status == "cancelled"
    comments = live.sql("SELECT COUNT(*) FROM comments")[0][0]
    skipped = live.sql("SELECT COUNT(*) FROM batch_results WHERE status = 'skipped'")[0][0]
    if mode == "atomic":
        assert comments == 0 and skipped == total and live.sql("SELECT COUNT(*) FROM events")[0][0] == 1
    else:
        assert 0 < comments < total - 1 and comments + 1 + skipped == total == final.done
        assert live.sql("SELECT COUNT(*) FROM events WHERE type = 'comment.created'")[0][0] == comments
    assert live.cancel(batch_id).status_code == 409


@pytest.mark.backends("production")
def test_progress_and_finished_reach_a_socketio_client(realtime, factory, start_worker, redis_url):
    import requests

    owner = factory.user("Owner")
    factory.project(owner, "WEB")
    watcher = factory.user("Watcher")
    server = realtime.server()
    client = realtime.client(server, owner)
    stranger = realtime.client(server, watcher)
    project_room = realtime.client(server, owner)
    assert project_room.join("project:WEB")["ok"]
    headers = factory.headers(owner)
    body = {"mode": "best_effort", "operations": [create(f"t{i}") for i in range(600)]}
    accepted = requests.post(f"{server.url}/api/v1/batches", json=body, headers=headers).json()
    batch_id = accepted["id"]
    assert client.join(f"batch:{batch_id}")["ok"]
    assert stranger.join(f"batch:{batch_id}") == {"ok": False, "error": "not found or not allowed"}
    assert realtime.client(server, factory.admin()).join(f"batch:{batch_id}")["ok"]
    start_worker("--no-scheduler", BATCH_CHUNK_SIZE="100", SOCKETIO_MESSAGE_QUEUE=redis_url)
    assert client.wait_for(lambda ev: names(ev, "batch.finished"), timeout=30)
    progress = client.received("batch.progress")
    finished = client.received("batch.finished")
    # sent to batch:{id} and user:{id} in one emit: a client in both gets it once
    assert len(finished) == 1 and finished[0]["status"] == "succeeded" and finished[0]["succeeded"] == 600
    assert progress[-1] == {"id": batch_id, "done": 600, "total": 600, "succeeded": 600, "failed": 0}
    dones = [p["done"] for p in progress]
    assert dones == sorted(dones) and all(p["total"] == 600 for p in progress)
    assert project_room.wait_for(lambda ev: len(project_room.seqs("project:WEB")) == 600, timeout=10)
    assert project_room.seqs("project:WEB") == list(range(2, 602))
    assert names(project_room.events, "events.bulk")
    assert stranger.received("batch.progress") == [] and stranger.received("batch.finished") == []


def test_embedded_mode_runs_batches_on_the_worker_thread(make_app, factory):
    import fakeredis

    from app.extensions import db
    from app.worker import set_job_app, start_embedded_worker

    app = make_app()
    # The thread outlives the test: no scheduler jobs that would run after its app is gone.
    app.extensions["beacon_schedule"] = []
    app.extensions["beacon_redis"] = fakeredis.FakeRedis(server=fakeredis.FakeServer())  # private to this test
    with app.app_context():
        owner = factory.user("Owner")
        factory.project(owner, "WEB")
        headers = factory.headers(owner)
        start_embedded_worker(app)
        client = app.test_client()
        batch_id = client.post("/api/v1/batches", json={"mode": "atomic", "operations": [create("a"), create("b")]},
                               headers=headers).json["id"]

        def status():
            db.session.remove()
            return client.get(f"/api/v1/batches/{batch_id}", headers=headers).json["status"]

        assert poll(status, lambda s: s not in ("queued", "running"), timeout=20, every=0.05) == "succeeded"
        assert db.session.execute(text("SELECT COUNT(*) FROM issues")).scalar() == 2
        db.session.remove()
    set_job_app(None)


@pytest.mark.backends("production")
def test_with_two_workers_a_killed_runners_batch_resumes_within_lease_and_reaper_interval(live, start_worker, redis_url):
    """Two `flask worker` processes on real Redis, idle long enough for a 5 s socket timeout
    to bite: whichever runs the batch is SIGKILLed, the other resumes it within a lease and
    a reaper interval, and each operation is applied once. (If the runner also led the
    scheduler, the other must take over the lead first: see test_worker.py.)"""
    import redis
    from rq import Worker

    lease, reaper = 10, 5  # the defaults: idle waits longer than redis-py's 5 s socket timeout
    settings = {"BATCH_LEASE_SECONDS": str(lease), "BATCH_REAPER_SECONDS": str(reaper), "BATCH_CHUNK_SIZE": "25"}
    workers = [start_worker(**settings), start_worker(**settings)]  # each with the scheduler, as in production
    time.sleep(2 * reaper + 2)  # both idle: each waits longer than 5 s between the reaper's jobs
    total = 600
    batch_id = live.post({"mode": "best_effort", "operations": [create("target", lid="t")] + [
        comment(f"c{i}", issue_lid="t") for i in range(total - 1)]})
    poll(lambda: live.row(batch_id), lambda r: r.done >= 100)
    job_id = live.sql("SELECT job_id FROM batches WHERE id = :id", id=batch_id)[0][0]
    connection = redis.Redis.from_url(redis_url)
    pid = next(w.pid for w in Worker.all(connection=connection) if w.get_current_job_id() == job_id)
    runner = next(w for w in workers if w.popen.pid == pid)
    assert not any("could not connect to Redis" in w.output() for w in workers)  # idle waits did not fail
    runner.kill(signal.SIGKILL)
    killed_at, killed = time.monotonic(), live.row(batch_id)
    assert killed.status == "running" and killed.done < total, killed
    poll(lambda: live.row(batch_id), lambda r: r.done > killed.done or r.status != "running", timeout=60, every=0.1)
    resumed_after = time.monotonic() - killed_at
    final = poll(lambda: live.row(batch_id), lambda r: r.status != "running", timeout=60, every=0.2)
    survivor = next(w for w in workers if w is not runner)
    assert "could not connect to Redis" not in survivor.output()
    assert resumed_after < lease + reaper + 3, resumed_after
    assert tuple(final) == ("succeeded", total, total, 0)
    bodies = live.sql("SELECT body, COUNT(*) FROM comments GROUP BY body HAVING COUNT(*) <> 1")
    assert bodies == [] and live.sql("SELECT COUNT(*) FROM comments")[0][0] == total - 1
    assert live.sql("SELECT COUNT(*) FROM issues")[0][0] == 1
    connection.close()


def test_real_workers_never_run_a_batch_forever(live, start_worker):
    """Stored without validation (as a bug or a hand-edited row could leave them): one
    batch whose operations are not even a list crashes every run, and is closed failed
    after BATCH_MAX_ATTEMPTS runs through the reaper; in another, an id past 64 bits fails
    its operation alone."""
    broken = live.post({"mode": "best_effort", "operations": [create("a"), create("b")]})
    huge = live.post({"mode": "best_effort", "operations": [create("ok"), create("replaced")]})
    live.write("UPDATE batches SET operations = :ops WHERE id = :id", id=broken, ops='{"not": "a list"}')
    live.write("UPDATE batches SET operations = :ops WHERE id = :id", id=huge,
               ops='[{"op": "create", "resource": "issue", "data": {"project": "WEB", "title": "ok"}}, '
                   '{"op": "delete", "resource": "issue", "id": 1000000000000000000000000000000}]')
    start_worker(BATCH_MAX_ATTEMPTS="3")  # with the scheduler: its reaper queues the broken batch again
    final = poll(lambda: live.row(broken), lambda r: r.status not in ("queued", "running"), timeout=60, every=0.2)
    assert tuple(final) == ("failed", 2, 0, 0)
    errors = live.sql("SELECT status, operation, error FROM batch_results WHERE batch_id = :id", id=broken)
    assert [tuple(e) for e in errors] == [
        ("skipped", "unknown", "Not applied: the batch was stopped after 3 runs that ended in an error.")] * 2
    assert tuple(poll(lambda: live.row(huge), lambda r: r.status != "running" and r.done == 2)) == (
        "partially_succeeded", 2, 1, 1)
