"""Batches: submit (with idempotency), read, list, page through results, cancel."""
import hashlib
import json
import logging
from datetime import timedelta

from redis.exceptions import RedisError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..errors import conflict, not_found, validation_error
from ..extensions import db
from ..models import Batch, BatchResult
from ..models.base import utcnow
from ..pagination import Key, paginate
from ..redis_client import get_redis
from ..schemas import renderer
from ..worker import enqueue_job
from .schemas import BatchAccepted, BatchOutput

log = logging.getLogger(__name__)

FINISHED = ("succeeded", "partially_succeeded", "failed", "cancelled")
UNFINISHED = ("queued", "running")
IDEMPOTENCY_WINDOW = timedelta(hours=24)
CANCEL_KEY = "beacon:batch:{id}:cancel"
# The job, by the name RQ stores anyway: jobs.py (the worker's side) imports this module
# through the runner and the reaper, so this one names the job rather than import it.
RUN_BATCH = "app.batches.jobs.run_batch"


batch_dict = renderer(BatchOutput)  # a batch record as responses and socket events show it
accepted_dict = renderer(BatchAccepted, url=lambda batch: f"/api/v1/batches/{batch.id}")


def body_hash(body):
    """A digest of the validated request: key order, whitespace and defaults spelled out
    or left implicit make no difference."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_idempotency_key(key):
    if key is not None and not (1 <= len(key) <= 200 and key.isprintable()):
        raise validation_error({"Idempotency-Key": ["Must be 1 to 200 printable characters."]})


def _existing(user, key, digest):
    """The live batch submitted with this key, if any; a different body is a 422."""
    batch = db.session.scalar(select(Batch).where(Batch.user_id == user.id, Batch.idempotency_key == key))
    if batch is None:
        return None
    if batch.created_at < utcnow() - IDEMPOTENCY_WINDOW:
        batch.idempotency_key = None  # expired: the key is free again
        db.session.flush()
        return None
    if batch.request_hash != digest:
        raise validation_error({"Idempotency-Key": ["This key was used with a different request body."]})
    return batch


def submit(user, data, digest, key=None):
    """Store a batch and queue its job; return ``(batch, created)``.

    With an ``Idempotency-Key`` seen in the last 24 h, return that batch instead.
    """
    if key is not None:
        batch = _existing(user, key, digest)
        if batch is not None:
            return batch, False
    operations = data["operations"]
    batch = Batch(user_id=user.id, mode=data["mode"], dry_run=data["dry_run"], status="queued",
                  operations=operations, total=len(operations), idempotency_key=key, request_hash=digest)
    db.session.add(batch)
    try:
        db.session.commit()
    except IntegrityError:  # the same key, submitted at the same moment
        db.session.rollback()
        batch = _existing(user, key, digest) if key is not None else None
        if batch is None:
            raise
        return batch, False
    enqueue(batch)
    return batch, True


def enqueue(batch):
    """Queue the batch's job (queued again by the reaper if it fails or is lost)."""
    try:
        job = enqueue_job(RUN_BATCH, batch.id, job_type="batch")
    except RedisError:  # the reaper queues it when Redis is back
        log.exception("could not queue batch %s", batch.id)
        return
    batch.job_id = job.id
    db.session.commit()


def load_batch(batch_id, user):
    batch = db.session.get(Batch, batch_id)
    if batch is None or (batch.user_id != user.id and not user.is_admin):
        raise not_found("batch")
    return batch


def list_batches(user, limit, cursor):
    query = select(Batch)
    if not user.is_admin:
        query = query.where(Batch.user_id == user.id)
    return paginate(query, [Key(Batch.id, lambda b: b.id, descending=True)], limit, cursor)


def result_dict(row):
    item = {"index": row.index, "status": row.status}
    if row.resource_id is not None:
        item["id"] = row.resource_id
    if row.error is not None:
        item["error"] = row.error
    return item


def list_results(batch, limit, cursor):
    query = select(BatchResult).where(BatchResult.batch_id == batch.id)
    page = paginate(query, [Key(BatchResult.index, lambda r: r.index)], limit, cursor)
    page["items"] = [result_dict(row) for row in page["items"]]
    return page


def flag_cancel(batch):
    """Tell the worker through Redis, which it reads between chunks even while it holds
    the database's write lock (SQLite) or the batch's row (an atomic run)."""
    if batch.status in FINISHED:
        raise conflict(f"The batch already finished ({batch.status}).")
    try:
        get_redis().set(CANCEL_KEY.format(id=batch.id), 1, ex=24 * 3600)
    except RedisError:
        log.exception("could not flag batch %s in Redis; the worker reads the database", batch.id)
    db.session.commit()  # end the read: the write below waits for the worker's lock, if any
    return batch


def cancel_user_batches(user_id):
    """Ask every unfinished batch of a user being deactivated to stop, in the caller's
    transaction. A batch row that a running worker holds locked (an atomic run, or a chunk
    being committed) is left unflagged rather than waited for: the request would wait for
    the whole run, and could deadlock with it (when the user is an admin, this transaction
    locks the row the run's new rows refer to). That run stops anyway before its next
    chunk, once it reads that its submitter is inactive."""
    free = db.session.scalars(select(Batch.id).where(Batch.user_id == user_id, Batch.status.in_(UNFINISHED))
                              .with_for_update(skip_locked=True)).all()
    if free:
        db.session.execute(update(Batch).where(Batch.id.in_(free)).values(cancel_requested=True))
    return free


def cancel(batch):
    """Record the cancel request; 409 if the batch finished before it could take effect."""
    changed = db.session.execute(
        update(Batch).where(Batch.id == batch.id, Batch.status.in_(UNFINISHED))
        .values(cancel_requested=True)).rowcount
    db.session.commit()
    if not changed:
        db.session.refresh(batch)
        if batch.status != "cancelled":  # it finished first
            raise conflict(f"The batch already finished ({batch.status}).")
    return batch
