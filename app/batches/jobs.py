"""What the RQ worker runs: a batch (under a lease), and the reaper of abandoned batches."""
import logging
import threading
import uuid

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import Batch
from ..models.base import utcnow
from ..worker import get_redis, in_app_context

log = logging.getLogger(__name__)

LEASE_KEY = "beacon:batch:{id}:lease"
ATTEMPTS_KEY = "beacon:batch:{id}:attempts"
REQUEUED_KEY = "beacon:batch:{id}:requeued"
MAX_ATTEMPTS = 5
GAVE_UP = "Not applied: the batch failed repeatedly and was stopped."


class Lease:
    """A Redis key saying "a live worker runs this batch", renewed by a heartbeat thread.

    The key expires ``BATCH_LEASE_SECONDS`` after its worker dies; the reaper then queues
    the batch again. (Exactly once does not rest on the lease: chunk claims in the
    database do that. The lease only keeps two live workers from racing.)
    """

    def __init__(self, batch_id):
        self.redis = get_redis()
        self.key = LEASE_KEY.format(id=batch_id)
        self.token = uuid.uuid4().hex
        self.seconds = current_app.config["BATCH_LEASE_SECONDS"]
        self.stopped = threading.Event()

    def acquire(self):
        if not self.redis.set(self.key, self.token, nx=True, px=int(self.seconds * 1000)):
            return False
        threading.Thread(target=self._beat, name=f"lease-{self.key}", daemon=True).start()
        return True

    def _beat(self):
        while not self.stopped.wait(self.seconds / 3):
            if self.redis.get(self.key) != self.token.encode():
                return
            self.redis.pexpire(self.key, int(self.seconds * 1000))

    def release(self):
        self.stopped.set()
        if self.redis.get(self.key) == self.token.encode():
            self.redis.delete(self.key)


@in_app_context
def run_batch(batch_id):
    """Run (or resume) a batch; a no-op when another live worker holds it or it finished."""
    from .runner import Runner

    lease = Lease(batch_id)
    if not lease.acquire():
        return "held by another worker"
    try:
        attempts = get_redis().incr(ATTEMPTS_KEY.format(id=batch_id))
        get_redis().expire(ATTEMPTS_KEY.format(id=batch_id), 7 * 24 * 3600)
        if attempts > MAX_ATTEMPTS:
            Runner(batch_id).give_up(GAVE_UP)
            return "gave up"
        return Runner(batch_id, lease).run()
    finally:
        db.session.remove()
        lease.release()


@in_app_context
def reap_batches():
    """Queue again the batches no live worker holds: running ones whose lease expired, and
    queued ones whose job is gone."""
    from rq.job import Job, JobStatus

    from .service import enqueue

    redis = get_redis()
    grace = current_app.config["BATCH_LEASE_SECONDS"]
    requeued = []
    for batch in db.session.scalars(select(Batch).where(Batch.status.in_(("queued", "running")))).all():
        if redis.exists(LEASE_KEY.format(id=batch.id)):
            continue
        if batch.status == "queued":
            if (utcnow() - batch.created_at).total_seconds() < grace:
                continue
            job = Job.fetch(batch.job_id, connection=redis) if batch.job_id and _job_exists(redis, batch.job_id) else None
            if job is not None and job.get_status() in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED,
                                                        JobStatus.DEFERRED):
                continue
        if not redis.set(REQUEUED_KEY.format(id=batch.id), 1, nx=True, px=int(grace * 1000)):
            continue  # queued again a moment ago
        log.warning("batch %s (%s) has no live worker: queuing it again", batch.id, batch.status)
        enqueue(batch)
        requeued.append(batch.id)
    db.session.remove()
    return requeued


def _job_exists(redis, job_id):
    from rq.job import Job

    return redis.exists(Job.key_for(job_id))
