"""``GET /metrics``: Prometheus text, computed at scrape time from shared state.

Request latency comes from Redis (every process adds to it, ``perf.py``), batches and
backups from the database, queue depth and failed jobs from RQ in Redis, so any process
answers for the whole deployment. The one per-process figure is the open Socket.IO
connections of the process that answers (labelled with its ``process``): scrape each
server process, or sum them.

An answer is reused for ``METRICS_CACHE_SECONDS`` (5) by the process that made it, and
scrapes arriving while one is being made wait for it: without ``METRICS_TOKEN`` anyone
who reaches /metrics may scrape it, and each fresh answer runs database and Redis queries.
"""
import hmac
import logging
import threading
import time

from flask import Response, current_app, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from rq import Worker
from rq.registry import FailedJobRegistry, StartedJobRegistry
from sqlalchemy import func, select

from ..errors import Problem
from ..extensions import db, per_app
from ..models import Backup, Batch
from ..models.base import utcnow
from ..realtime import connections
from ..redis_client import get_redis
from ..worker import get_queue
from . import bp, perf

log = logging.getLogger(__name__)


class BeaconCollector:
    """Collects every Beacon metric when it is scraped."""

    def collect(self):
        yield from _requests()
        yield from _connections()
        yield from _batches()
        yield from _backups()
        yield from _queues()


def _requests():
    histogram = HistogramMetricFamily("beacon_http_request_duration_seconds",
                                      "HTTP request latency by endpoint (URL rule) and status",
                                      labels=["endpoint", "status"])
    for (endpoint, status), entry in sorted(perf.histograms().items()):
        cumulative, buckets = 0, []
        for le in perf.BUCKETS:
            cumulative += entry["buckets"].get(repr(le), 0)
            buckets.append((repr(le), cumulative))
        buckets.append(("+Inf", entry["count"]))
        histogram.add_metric([endpoint, status], buckets, entry["sum"])
    yield histogram


def _connections():
    gauge = GaugeMetricFamily("beacon_socketio_connections", "Open Socket.IO connections of this server process",
                              labels=["process"])
    gauge.add_metric([connections.server_id()], connections.count())
    yield gauge


def _batches():
    rows = db.session.execute(select(Batch.status, func.count(Batch.id), func.coalesce(func.sum(Batch.total), 0),
                                     func.coalesce(func.sum(Batch.succeeded), 0),
                                     func.coalesce(func.sum(Batch.failed), 0)).group_by(Batch.status)).all()
    batches = GaugeMetricFamily("beacon_batches", "Batches by status", labels=["status"])
    operations = CounterMetricFamily("beacon_batch_operations", "Operations in batches by outcome",
                                     labels=["outcome"])
    total = succeeded = failed = 0
    for status, count, ops, ok, bad in rows:
        batches.add_metric([status], count)
        total, succeeded, failed = total + int(ops), succeeded + int(ok), failed + int(bad)
    operations.add_metric(["submitted"], total)
    operations.add_metric(["succeeded"], succeeded)
    operations.add_metric(["failed"], failed)
    yield batches
    yield operations


def _backups():
    newest = db.session.scalar(select(func.max(Backup.completed_at)).where(Backup.status == "verified"))
    last = db.session.execute(select(Backup.duration_ms).where(Backup.completed_at.is_not(None))
                              .order_by(Backup.completed_at.desc()).limit(1)).first()
    age = GaugeMetricFamily("beacon_backup_age_seconds",
                            "Seconds since the newest verified backup completed (absent when there is none)")
    if newest is not None:
        age.add_metric([], (utcnow() - newest).total_seconds())
    yield age
    duration = GaugeMetricFamily("beacon_backup_last_duration_seconds", "How long the latest backup took")
    if last is not None and last[0] is not None:
        duration.add_metric([], last[0] / 1000)
    yield duration


def _queues():
    queue = get_queue(current_app)
    depth = GaugeMetricFamily("beacon_rq_queue_depth", "Jobs waiting in the RQ queue", labels=["queue"])
    running = GaugeMetricFamily("beacon_rq_jobs_running", "Jobs being run", labels=["queue"])
    failed = GaugeMetricFamily("beacon_rq_failed_jobs", "Jobs in the failed registry", labels=["queue"])
    workers = GaugeMetricFamily("beacon_rq_workers", "RQ workers alive")
    depth.add_metric([queue.name], queue.count)
    running.add_metric([queue.name], StartedJobRegistry(queue=queue).count)
    failed.add_metric([queue.name], FailedJobRegistry(queue=queue).count)
    workers.add_metric([], Worker.count(connection=get_redis(current_app)))
    yield from (depth, running, failed, workers)


def _registry(app):
    def make():
        registry = CollectorRegistry(auto_describe=False)
        registry.register(BeaconCollector())
        return registry

    return per_app(app, "beacon_metrics", make)


class _Cache:
    """The latest answer of this process and when it was made."""

    def __init__(self):
        self.lock = threading.Lock()
        self.body, self.made = None, 0.0


def _exposition(app):
    """The metrics text, made at most once per ``METRICS_CACHE_SECONDS``."""
    cache = per_app(app, "beacon_metrics_cache", _Cache)
    with cache.lock:
        if cache.body is None or time.monotonic() - cache.made >= app.config["METRICS_CACHE_SECONDS"]:
            cache.body, cache.made = generate_latest(_registry(app)), time.monotonic()
        return cache.body


def _check_token():
    expected = current_app.config.get("METRICS_TOKEN")
    if not expected:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), expected.encode()):
        raise Problem(401, "/metrics wants the metrics token.", headers={"WWW-Authenticate": "Bearer"})


@bp.route("/metrics")
def metrics():
    _check_token()
    return Response(_exposition(current_app._get_current_object()), content_type=CONTENT_TYPE_LATEST)
