"""The RQ side: jobs run in the embedded worker thread and in `flask worker` processes."""
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from app.models import User
from app.redis_client import get_redis
from app.worker import SCHEDULER_LEASE_KEY, enqueue_job, start_embedded_worker
from tests.support.batches import start_worker  # noqa: F401
from tests.support.jobs import create_named_user, record_pid
from tests.support.live import ROOT


def wait_until_done(jobs, timeout):
    """True once every job has finished (a queue can look empty while a job is being picked up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(job.get_status(refresh=True).value == "finished" for job in jobs):
            return True
        time.sleep(0.05)
    return False


def _user_names(db):
    return set(db.session.scalars(select(User.name)))


def test_embedded_worker_thread_runs_jobs_on_fakeredis(make_app):
    import fakeredis

    from app.extensions import db
    from app.worker import set_job_app

    app = make_app()
    assert isinstance(get_redis(app), fakeredis.FakeRedis)
    # The embedded worker runs until the process ends: give it a Redis of its own so it
    # can never take the jobs of a later test.
    app.extensions["beacon_redis"] = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    app.extensions["beacon_schedule"] = []  # nor scheduled jobs that would run after this app is gone
    with app.app_context():
        start_embedded_worker(app)
        jobs = [enqueue_job(create_named_user, f"thread{i}", job_type="test") for i in range(5)]
        assert wait_until_done(jobs, timeout=20)
        db.session.remove()
        assert {f"thread{i}" for i in range(5)} <= _user_names(db)
    set_job_app(None)


def run_burst_worker_process(app, redis_url, database_url):
    """Run `flask worker --burst` in a process of its own until the queue is empty."""
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "worker", "--burst", "--no-scheduler"],
        cwd=ROOT, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "REDIS_URL": redis_url,
                       "DATABASE_URL": database_url, "BEACON_INSTANCE_PATH": app.instance_path},
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_flask_worker_process_runs_jobs_from_real_redis(make_app, redis_url, database_url):
    from app.extensions import db

    app = make_app(REDIS_URL=redis_url)
    with app.app_context():
        enqueue_job(create_named_user, "process", job_type="test")
        run_burst_worker_process(app, redis_url, database_url)
        db.session.remove()
        assert "process" in _user_names(db)


def test_flask_worker_runs_its_jobs_in_its_own_process_without_forking(make_app, redis_url, database_url):
    """A deliberate fast path (docs/ARCHITECTURE.md): a work horse forked per job started each
    batch with cold caches; every job of one worker runs in that one process."""
    app = make_app(REDIS_URL=redis_url)
    with app.app_context():
        get_redis(app).delete("test:pids")
        for _ in range(3):
            enqueue_job(record_pid, "test:pids", job_type="test")
        run_burst_worker_process(app, redis_url, database_url)
        pids = get_redis(app).lrange("test:pids", 0, -1)
        assert len(pids) == 3 and len(set(pids)) == 1


@pytest.mark.backends("production")
def test_when_the_scheduling_worker_dies_another_schedules_within_a_batch_lease(start_worker, redis_url):
    """The reaper runs on the scheduler's leader: a batch whose runner was the leader
    resumes only once another worker leads, which must be within a batch lease and a
    reaper interval (the defaults, 10 s and 5 s)."""
    import redis

    settings = {"BATCH_LEASE_SECONDS": "10", "BATCH_REAPER_SECONDS": "5"}
    workers = [start_worker(**settings), start_worker(**settings)]
    connection = redis.Redis.from_url(redis_url)

    def leader_pid():
        holder = connection.get(SCHEDULER_LEASE_KEY)
        return holder and int(holder.decode().split(":")[1])

    deadline = time.monotonic() + 20
    while leader_pid() not in [w.popen.pid for w in workers] and time.monotonic() < deadline:
        time.sleep(0.05)
    leader = next(w for w in workers if w.popen.pid == leader_pid())
    survivor = next(w for w in workers if w is not leader)
    leader.kill(signal.SIGKILL)
    killed_at = time.monotonic()
    while leader_pid() != survivor.popen.pid and time.monotonic() - killed_at < 60:
        time.sleep(0.05)
    took_over = time.monotonic() - killed_at
    connection.close()
    assert took_over < 10 + 5 + 2, took_over
