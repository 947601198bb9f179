"""The RQ side: the queue, jobs with an app context, workers and the scheduler.

With ``REDIS_URL`` set, jobs run in ``flask worker`` processes. Without it (the embedded
mode of ``make run``) Redis is an in-process fakeredis server and one worker thread in
the server process runs the same jobs. Features add periodic jobs with ``add_schedule``;
exactly one scheduler (a lease in Redis) enqueues them, whatever the number of workers.
"""
import functools
import logging
import os
import threading
import time

import click
from flask import current_app
from flask.cli import with_appcontext
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler
from rq.timeouts import TimerDeathPenalty

from .redis_client import Lease, get_redis, worker_redis

log = logging.getLogger(__name__)

QUEUE = "beacon"
SCHEDULER_LEASE_KEY = "beacon:scheduler:leader"
# A dead leader's successor takes over within 10 s (plus one look every 10/3 s) and runs
# the reaper at once: a batch whose runner died with the leader resumes within a batch
# lease and a reaper interval, as it does when only the runner dies. At 30 s it took 29 s.
SCHEDULER_LEASE_SECONDS = 10
_job_app = None


def get_queue(app=None):
    return Queue(QUEUE, connection=get_redis(app))


def enqueue_job(func, *args, job_type, job_timeout=3600, retry=None, job_id=None, **kwargs):
    """Queue ``func(*args, **kwargs)``; ``job_type`` names it in the admin views."""
    return get_queue().enqueue(
        func, args=args, kwargs=kwargs, job_id=job_id, meta={"type": job_type},
        job_timeout=job_timeout, retry=retry, result_ttl=7 * 24 * 3600, failure_ttl=7 * 24 * 3600,
    )


def job_app():
    """The Flask app jobs run in: the worker's own, created once per process."""
    global _job_app
    if _job_app is None:
        # A real cycle: the app factory (app/__init__.py) imports this module for its CLI.
        from . import create_app

        _job_app = create_app()
    return _job_app


def set_job_app(app):
    global _job_app
    _job_app = app


def in_app_context(func):
    """Run a job function inside the app context of the process running it."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with job_app().app_context():
            return func(*args, **kwargs)

    return wrapper


def add_schedule(app, func, *, cron=None, interval=None, name=None):
    """Run ``func`` (a job function) periodically: a cron string or an interval in seconds."""
    app.extensions.setdefault("beacon_schedule", []).append(
        {"func": func, "cron": cron, "interval": interval, "name": name or func.__name__})


class ThreadWorker(SimpleWorker):
    """An RQ worker that can run in a non-main thread (no signal handlers, no SIGALRM)."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self):
        pass


class Scheduler:
    """Enqueues the scheduled jobs while it holds the leader lease in Redis."""

    def __init__(self, app):
        self.connection = get_redis(app)
        self.lease = Lease(self.connection, SCHEDULER_LEASE_KEY, SCHEDULER_LEASE_SECONDS)
        self.cron = CronScheduler(connection=self.connection, name=f"beacon-{os.getpid()}-{self.lease.token[-6:]}")
        for entry in app.extensions.get("beacon_schedule", []):
            self.cron.register(entry["func"], QUEUE, cron=entry["cron"], interval=entry["interval"],
                               name=entry["name"], job_timeout=3600)

    def run(self):
        while True:
            if self.cron.get_jobs() and self.lease.hold():
                for job in self.cron.enqueue_jobs():  # the reaper's every few seconds: routine
                    log.debug("enqueued scheduled job %s", job.name)
            time.sleep(min(self.cron.calculate_sleep_interval(), SCHEDULER_LEASE_SECONDS / 3))

    def start_thread(self):
        thread = threading.Thread(target=self.run, name="beacon-scheduler", daemon=True)
        thread.start()
        return thread


def start_embedded_worker(app):
    """Run a worker thread and the scheduler inside this process (embedded mode)."""
    set_job_app(app)
    worker = ThreadWorker([get_queue(app)], connection=get_redis(app))
    threading.Thread(target=worker.work, name="beacon-worker", daemon=True,
                     kwargs={"logging_level": "WARNING"}).start()
    Scheduler(app).start_thread()
    return worker


@click.command("worker")
@click.option("--burst", is_flag=True, help="Quit when the queue is empty.")
@click.option("--no-scheduler", is_flag=True, help="Do not run the scheduler in this worker.")
@with_appcontext
def worker_command(burst, no_scheduler):
    """Run an RQ worker (with the scheduler) for a REDIS_URL deployment."""
    app = current_app._get_current_object()
    if not app.config["REDIS_URL"]:
        raise click.ClickException("REDIS_URL is not set: the server runs jobs itself (embedded mode).")
    set_job_app(app)
    if not no_scheduler:
        Scheduler(app).start_thread()
    # Jobs run in this process, not in a work horse forked per job: a fork started each job
    # with cold caches (compiled SQL, new database connections, whose server processes had
    # their own caches to fill), 0.15-0.3 s of a 10,000-operation batch. A job that kills
    # the process is covered like a killed worker: the reaper resumes its batch.
    connection = worker_redis(app)
    worker = SimpleWorker([Queue(QUEUE, connection=connection)], connection=connection)
    # A real cycle, as in ``job_app``: the package imports this module for its CLI.
    from . import freeze_startup_heap

    freeze_startup_heap()
    worker.work(burst=burst, logging_level="INFO")
