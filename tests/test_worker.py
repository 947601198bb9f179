"""The RQ side: jobs run in the embedded worker thread and in `flask worker` processes."""
import subprocess
import sys

from sqlalchemy import select

from app.models import User
from app.worker import enqueue_job, get_redis, start_embedded_worker, wait_for_jobs
from tests.support.jobs import create_named_user
from tests.support.live import ROOT


def _user_names(db):
    return set(db.session.scalars(select(User.name)))


def test_embedded_worker_thread_runs_jobs_on_fakeredis(app):
    from app.extensions import db

    import fakeredis

    assert isinstance(get_redis(app), fakeredis.FakeRedis)
    start_embedded_worker(app)
    jobs = [enqueue_job(create_named_user, f"thread{i}", job_type="test") for i in range(5)]
    assert wait_for_jobs(app, timeout=20)
    db.session.remove()
    assert {f"thread{i}" for i in range(5)} <= _user_names(db)
    assert all(job.get_status(refresh=True).value == "finished" for job in jobs)


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
