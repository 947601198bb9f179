"""The RQ side: the Redis connection, the queue, jobs with an app context, and workers.

With ``REDIS_URL`` set, jobs run in ``flask worker`` processes. Without it (the embedded
mode of ``make run``) Redis is an in-process fakeredis server and one worker thread in
the server process runs the same jobs. Features add periodic jobs with ``add_schedule``;
exactly one scheduler (a lease in Redis) enqueues them, whatever the number of workers.
"""
import functools
import logging
import os
import socket
import threading
import time
import uuid

import click
import redis
from flask import current_app
from flask.cli import with_appcontext
from redis.exceptions import WatchError
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler
from rq.defaults import DEFAULT_WORKER_TTL
from rq.timeouts import TimerDeathPenalty

from .extensions import per_app

log = logging.getLogger(__name__)

QUEUE = "beacon"
SCHEDULER_LEASE_KEY = "beacon:scheduler:leader"
# A dead leader's successor takes over within 10 s (plus one look every 10/3 s) and runs
# the reaper at once: a batch whose runner died with the leader resumes within a batch
# lease and a reaper interval, as it does when only the runner dies. At 30 s it took 29 s.
SCHEDULER_LEASE_SECONDS = 10
# An RQ worker's own connections time out after this long. Its blocking dequeue waits up
# to the worker TTL less 15 s (405 s); redis-py 8 gives connections a 5 s timeout unless
# told, which cut every idle wait at 5 s (see ``worker_redis``).
WORKER_SOCKET_TIMEOUT = DEFAULT_WORKER_TTL
# The app's Redis connections, per process. redis-py 8 caps a pool at 100 connections and
# raises MaxConnectionsError at once for the 101st: under eventlet, a server process
# restarted under load took 100 re-joining sockets at once, and each held a connection
# while it waited on Redis, so disconnect handlers failed (bench/reliability.py). Past the
# cap a caller now waits for a free connection, up to REDIS_POOL_WAIT_SECONDS.
REDIS_POOL_SIZE = 100
REDIS_POOL_WAIT_SECONDS = 20

_embedded_server = None
_embedded_lock = threading.Lock()
_job_app = None


def get_redis(app=None):
    """The app's Redis connection: real with ``REDIS_URL``, else the process's fakeredis."""
    app = app or current_app

    def make():
        if not app.config["REDIS_URL"]:
            return _fake_redis()
        pool = redis.BlockingConnectionPool.from_url(app.config["REDIS_URL"], max_connections=REDIS_POOL_SIZE,
                                                     timeout=REDIS_POOL_WAIT_SECONDS, health_check_interval=30)
        return redis.Redis(connection_pool=pool)

    return per_app(app, "beacon_redis", make)


def worker_redis(app):
    """A Redis client of an RQ worker's own: its blocking dequeue, heartbeats and job records.

    Not the app's client: RQ raises the socket timeout of its connection's pool above its
    dequeue wait, but only for connections made afterwards, and the app's pool already held
    some that the scheduler thread had opened with redis-py's 5 s default. A worker that
    dequeued on one of them failed every idle wait after 5 s ("Timeout reading from
    socket"), and RQ backed off (1, 2, 4, 8 s...) before it dequeued again: it took no job
    for a minute. Its own timeout also keeps the app's commands at the 5 s default.
    """
    return redis.Redis.from_url(app.config["REDIS_URL"], socket_timeout=WORKER_SOCKET_TIMEOUT,
                                health_check_interval=30)


def _fake_redis():
    global _embedded_server
    import fakeredis

    with _embedded_lock:
        if _embedded_server is None:
            _embedded_server = fakeredis.FakeServer()
    return fakeredis.FakeRedis(server=_embedded_server)


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


class Lease:
    """A Redis key that one owner holds at a time; it lapses ``seconds`` after its owner
    stops renewing it (a dead process never holds it for long)."""

    def __init__(self, connection, key, seconds):
        self.connection, self.key, self.seconds = connection, key, seconds
        # Unique, and says who holds it (host and process), for people reading Redis.
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        self.stopped = threading.Event()

    def hold(self):
        """Take the lease, or renew it if ours; True while this owner holds it."""
        milliseconds = int(self.seconds * 1000)
        if self.connection.set(self.key, self.token, nx=True, px=milliseconds):
            return True
        return self._if_ours(lambda pipe: pipe.pexpire(self.key, milliseconds))

    def keep_alive(self):
        """Renew the lease from a heartbeat thread until ``release`` (or until it is lost)."""
        def beat():
            while not self.stopped.wait(self.seconds / 3) and self.hold():
                pass

        threading.Thread(target=beat, name=f"lease-{self.key}", daemon=True).start()

    def release(self):
        self.stopped.set()
        self._if_ours(lambda pipe: pipe.delete(self.key))

    def _if_ours(self, action):
        """Run ``action`` on the key only while this owner holds it, in one transaction: a
        lease that lapses between the check and the action is left to its new owner."""
        with self.connection.pipeline() as pipe:
            try:
                pipe.watch(self.key)
                if pipe.get(self.key) != self.token.encode():
                    return False
                pipe.multi()
                action(pipe)
                pipe.execute()
                return True
            except WatchError:
                return False


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
    from . import freeze_startup_heap

    freeze_startup_heap()
    worker.work(burst=burst, logging_level="INFO")
