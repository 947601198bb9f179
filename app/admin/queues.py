"""RQ jobs as the admin API shows them: the queue, its workers, failed jobs, one job, requeue.

Everything is read from RQ's own records in Redis, so it covers every worker process.
"""
import json
import re
from collections import defaultdict
from datetime import timezone

from flask import current_app
from rq import Worker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import (DeferredJobRegistry, FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry,
                         StartedJobRegistry)
from rq.results import Result

from ..errors import conflict, not_found
from ..models.base import isoformat
from ..ops.perf import summary
from ..redis_client import get_redis
from ..worker import get_queue

STATUS = {JobStatus.CREATED: "queued", JobStatus.QUEUED: "queued", JobStatus.DEFERRED: "queued",
          JobStatus.SCHEDULED: "queued", JobStatus.READY_TO_ENQUEUE: "queued", JobStatus.RATE_LIMITED: "queued",
          JobStatus.STARTED: "running", JobStatus.FINISHED: "succeeded", JobStatus.FAILED: "failed",
          JobStatus.STOPPED: "failed", JobStatus.CANCELED: "failed"}
JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")  # what RQ accepts
FAILED_SHOWN = 50
FIGURE_JOBS = 500  # the latest finished and failed jobs each that the performance figures cover


def _time(value):
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return isoformat(value)


def _plain(value):
    """A JSON-ready copy of a job's return value (anything not JSON becomes its str)."""
    return json.loads(json.dumps(value, default=str))


def _error(exc_string):
    """The exception line of a traceback: what went wrong, without the stack."""
    lines = [line for line in (exc_string or "").strip().splitlines() if line.strip()]
    return lines[-1][:1000] if lines else "failed"


def job_dict(job):
    status = STATUS.get(job.get_status(refresh=False), "queued")
    result = job.latest_result()
    value = error = None
    if result is not None and result.type == Result.Type.SUCCESSFUL:
        value = _plain(result.return_value)
    elif result is not None and result.type == Result.Type.FAILED:
        error = _error(result.exc_string)
    elif status == "failed":
        error = "failed"
    return {"id": job.id, "type": (job.meta or {}).get("type"), "status": status, "result": value, "error": error,
            "enqueued_at": _time(job.enqueued_at), "started_at": _time(job.started_at),
            "ended_at": _time(job.ended_at)}


def fetch(job_id):
    if not JOB_ID.fullmatch(job_id):
        raise not_found("job")
    try:
        return Job.fetch(job_id, connection=get_redis(current_app))
    except NoSuchJobError:
        raise not_found("job") from None


def get_job(job_id):
    return job_dict(fetch(job_id))


def requeue(job_id):
    """Put a failed job back on its queue; any other status is a 409."""
    job = fetch(job_id)
    if job.get_status() != JobStatus.FAILED:
        raise conflict(f"Only a failed job can be requeued; this one is {STATUS.get(job.get_status(), 'queued')}.")
    try:
        FailedJobRegistry(queue=get_queue(current_app)).requeue(job)
    except InvalidJobOperation:
        raise conflict("The job is no longer in the failed registry.") from None
    return job_dict(fetch(job_id))


def overview():
    queue = get_queue(current_app)
    connection = get_redis(current_app)
    failed = FailedJobRegistry(queue=queue)
    queues = [{"name": queue.name, "depth": queue.count, "running": StartedJobRegistry(queue=queue).count,
               "failed": failed.count, "succeeded": FinishedJobRegistry(queue=queue).count,
               "scheduled": ScheduledJobRegistry(queue=queue).count + DeferredJobRegistry(queue=queue).count}]
    workers = [{"name": w.name, "state": _state(w), "queues": w.queue_names(),
                "current_job_id": w.get_current_job_id(), "last_heartbeat": _time(w.last_heartbeat),
                "successful_jobs": w.successful_job_count, "failed_jobs": w.failed_job_count}
               for w in Worker.all(connection=connection)]
    jobs = Job.fetch_many(failed.get_job_ids(0, FAILED_SHOWN - 1, desc=True), connection=connection)
    return {"queues": queues, "workers": workers, "failed_jobs": [job_dict(job) for job in jobs if job]}


def job_figures():
    """Per job type: count, errors and p50/p95/p99 run time over the latest jobs RQ keeps."""
    queue = get_queue(current_app)
    connection = get_redis(current_app)
    by_type = defaultdict(lambda: {"count": 0, "errors": 0, "durations": []})
    for registry, failed in ((FinishedJobRegistry(queue=queue), False), (FailedJobRegistry(queue=queue), True)):
        ids = registry.get_job_ids(0, FIGURE_JOBS - 1, desc=True)
        for job in Job.fetch_many(ids, connection=connection):
            if job is None:
                continue
            entry = by_type[(job.meta or {}).get("type")]
            entry["count"] += 1
            entry["errors"] += failed
            if job.started_at and job.ended_at:
                entry["durations"].append((job.ended_at - job.started_at).total_seconds() * 1000)
    return [{"type": job_type, "count": e["count"], "errors": e["errors"], **summary(e["durations"])}
            for job_type, e in sorted(by_type.items(), key=lambda item: str(item[0]))]


def _state(worker):
    state = worker.get_state()
    return str(getattr(state, "value", state))
