"""What the RQ worker runs: a batch (under a lease), and the reaper of abandoned batches.

One path retries a run that did not end: the reaper. It queues again a batch no live
worker holds, whether its run ended in an error or died with its worker. (RQ's own
``Retry`` beside it scheduled each failed job again for an RQ scheduler that no worker
runs; the reaper took such a job for one still to come, so a batch whose first run failed
before it started stayed queued for ever.) Every run counts as an attempt until one ends
without an error; the ``BATCH_MAX_ATTEMPTS``-th that does not closes the batch ``failed``,
so that no batch runs forever.
"""
import logging

from flask import current_app
from rq.job import Job, JobStatus
from sqlalchemy import select

from ..extensions import db
from ..models import Batch
from ..models.base import utcnow
from ..redis_client import Lease, get_redis
from ..worker import add_schedule, in_app_context
from .runner import Runner
from .service import enqueue

log = logging.getLogger(__name__)

LEASE_KEY = "beacon:batch:{id}:lease"
ATTEMPTS_KEY = "beacon:batch:{id}:attempts"
REQUEUED_KEY = "beacon:batch:{id}:requeued"
GAVE_UP = "Not applied: the batch was stopped after {attempts} runs that ended in an error."


@in_app_context
def run_batch(batch_id):
    """Run (or resume) a batch; a no-op when another live worker holds it or it finished."""
    # A key saying "a live worker runs this batch": it lapses BATCH_LEASE_SECONDS after its
    # worker dies, and the reaper then queues the batch again. (Exactly once does not rest
    # on the lease: chunk claims in the database do that. It only keeps two live workers
    # from racing.)
    redis = get_redis()
    lease = Lease(redis, LEASE_KEY.format(id=batch_id), current_app.config["BATCH_LEASE_SECONDS"])
    if not lease.hold():
        return "held by another worker"
    lease.keep_alive()
    most = current_app.config["BATCH_MAX_ATTEMPTS"]
    attempts_key = ATTEMPTS_KEY.format(id=batch_id)
    try:
        attempt, _ = redis.pipeline().incr(attempts_key).expire(attempts_key, 7 * 24 * 3600).execute()
        if attempt > most:  # the last run died with its worker
            Runner(batch_id).give_up(GAVE_UP.format(attempts=most))
            outcome = "gave up"
        else:
            try:
                outcome = Runner(batch_id).run()
            except Exception:
                if attempt >= most:  # the last run: close the batch, and still fail the job
                    log.exception("batch %s: run %s of %s ended in an error; closing the batch", batch_id,
                                  attempt, most)
                    db.session.rollback()
                    Runner(batch_id).give_up(GAVE_UP.format(attempts=most))
                    redis.delete(attempts_key)
                raise
        # The run ended without an error: forget its attempts, so that a batch id that comes
        # back (a restore, an emptied database) does not start counting where this one ended.
        redis.delete(attempts_key)
        return outcome
    finally:
        db.session.remove()
        lease.release()


@in_app_context
def reap_batches():
    """Queue again the unfinished batches no live worker holds and no job waits to run:
    running ones whose lease expired (their run ended or died), and queued ones whose job
    is gone."""
    redis = get_redis()
    grace = current_app.config["BATCH_LEASE_SECONDS"]
    requeued = []
    for batch in db.session.scalars(select(Batch).where(Batch.status.in_(("queued", "running")))).all():
        if redis.exists(LEASE_KEY.format(id=batch.id)):
            continue
        if batch.status == "queued" and (utcnow() - batch.created_at).total_seconds() < grace:
            continue  # its job may still be on its way
        if _job_waits(redis, batch.job_id):
            continue
        if not redis.set(REQUEUED_KEY.format(id=batch.id), 1, nx=True, px=int(grace * 1000)):
            continue  # queued again a moment ago
        log.warning("batch %s (%s) has no live worker: queuing it again", batch.id, batch.status)
        enqueue(batch)
        requeued.append(batch.id)
    db.session.remove()
    return requeued


def _job_waits(redis, job_id):
    """True while the batch's job sits in the queue: it will run, and a second would only
    wait behind it. A started job does not count (its worker holds the lease while alive),
    nor a scheduled one (no RQ scheduler runs)."""
    if not job_id or not redis.exists(Job.key_for(job_id)):
        return False
    return Job.fetch(job_id, connection=redis).get_status() == JobStatus.QUEUED


def register_schedule(app):
    """Look for abandoned batches every ``BATCH_REAPER_SECONDS``."""
    add_schedule(app, reap_batches, interval=app.config["BATCH_REAPER_SECONDS"], name="reap_batches")
