"""The RQ side: jobs run in the embedded worker thread and in `flask worker` processes."""
import subprocess
import sys
import time

from sqlalchemy import select

from app.models import User
from app.worker import enqueue_job, get_redis, start_embedded_worker
from tests.support.jobs import create_named_user
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


def test_flask_worker_process_runs_jobs_from_real_redis(make_app, redis_url, database_url):
    from app.extensions import db

    app = make_app(REDIS_URL=redis_url)
    with app.app_context():
        enqueue_job(create_named_user, "process", job_type="test")
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", "worker", "--burst", "--no-scheduler"],
            cwd=ROOT, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "REDIS_URL": redis_url,
                           "DATABASE_URL": database_url, "BEACON_INSTANCE_PATH": app.instance_path},
            capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        db.session.remove()
        assert "process" in _user_names(db)
