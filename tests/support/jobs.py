"""Job functions the worker tests enqueue (importable by worker processes), and a burst
worker that runs the queued jobs in the test's own thread."""
import os

from app.extensions import db
from app.redis_client import get_redis
from app.worker import ThreadWorker, get_queue, in_app_context, set_job_app


def run_queued_jobs(app):
    """Run every queued job in this thread with an RQ worker (burst), as `flask worker` would."""
    ThreadWorker([get_queue(app)], connection=get_redis(app)).work(burst=True, logging_level="WARNING")


def run_jobs(app):
    """``run_queued_jobs`` from a test holding the app's session: its transaction ends
    first (on SQLite it would hold the write lock), and what the jobs wrote is read afresh."""
    db.session.commit()
    set_job_app(app)
    try:
        run_queued_jobs(app)
    finally:
        set_job_app(None)
    db.session.expire_all()


@in_app_context
def create_named_user(name):
    from app.users.service import create_user

    return create_user(f"{name}@jobs.test", name, "password-123").id


@in_app_context
def create_issue_as(user_id, project_key, title):
    """Create an issue from a worker process (its event must reach Socket.IO clients)."""
    from sqlalchemy import select

    from app.extensions import db
    from app.issues.service import create_issue
    from app.models import Project, User

    project = db.session.scalar(select(Project).where(Project.key == project_key))
    return create_issue(project, db.session.get(User, user_id), {"title": title}).id


@in_app_context
def record_pid(key):
    """Note which process ran this job (a list in Redis)."""
    get_redis().rpush(key, os.getpid())
