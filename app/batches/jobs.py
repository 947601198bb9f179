"""What the RQ worker runs: a batch (under a lease), and the reaper of abandoned batches."""
import logging

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import Batch
from ..models.base import utcnow
from ..worker import Lease, add_schedule, get_redis, in_app_context

log = logging.getLogger(__name__)

LEASE_KEY = "beacon:batch:{id}:lease"
ATTEMPTS_KEY = "beacon:batch:{id}:attempts"
REQUEUED_KEY = "beacon:batch:{id}:requeued"
MAX_ATTEMPTS = 5
GAVE_UP = "Not applied: the batch failed repeatedly and was stopped."


@in_app_context
def run_batch(batch_id):
    """Run (or resume) a batch; a no-op when another live worker holds it or it finished."""
    from .runner import Runner

    # A key saying "a live worker runs this batch": it lapses BATCH_LEASE_SECONDS after its
    # worker dies, and the reaper then queues the batch again. (Exactly once does not rest
    # on the lease: chunk claims in the database do that. It only keeps two live workers
    # from racing.)
    redis = get_redis()
    lease = Lease(redis, LEASE_KEY.format(id=batch_id), current_app.config["BATCH_LEASE_SECONDS"])
    if not lease.hold():
        return "held by another worker"
    lease.keep_alive()
    try:
        attempts, _ = redis.pipeline().incr(ATTEMPTS_KEY.format(id=batch_id)).expire(
            ATTEMPTS_KEY.format(id=batch_id), 7 * 24 * 3600).execute()
        if attempts > MAX_ATTEMPTS:
            Runner(batch_id).give_up(GAVE_UP)
            outcome = "gave up"
        else:
            outcome = Runner(batch_id).run()
        # The run ended without crashing: forget its attempts, so that a batch id that comes
        # back (a restore, an emptied database) does not start counting where this one ended.
        redis.delete(ATTEMPTS_KEY.format(id=batch_id))
        return outcome
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


def register_schedule(app):
    """Look for abandoned batches every ``BATCH_REAPER_SECONDS``."""
    add_schedule(app, reap_batches, interval=app.config["BATCH_REAPER_SECONDS"], name="reap_batches")
