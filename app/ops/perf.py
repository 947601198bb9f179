"""Request timings kept in Redis, so every server process adds to the same figures.

Per endpoint (``"GET /api/v1/issues/<int:issue_id>"``):

- ``beacon:perf:req:{endpoint}``: hash of counters ``count``, ``errors`` (5xx),
  ``client_errors`` (4xx), and the latency histogram ``h:{status}:{le}``, ``h:{status}:sum``,
  ``h:{status}:count`` that ``/metrics`` reads;
- ``beacon:perf:req:{endpoint}:samples``: the latest ``SAMPLES`` durations in ms (percentiles);
- ``beacon:perf:endpoints``: the endpoints seen; ``beacon:perf:slow``: the latest ``SLOW_KEEP``
  requests over ``SLOW_REQUEST_MS``.

Memory is bounded: endpoints are URL rules (not raw paths), and lists are trimmed on write.
"""
import json
import logging
import math

from flask import current_app
from redis.exceptions import RedisError

from ..models.base import isoformat, utcnow

log = logging.getLogger(__name__)

PREFIX = "beacon:perf:"
ENDPOINTS_KEY = PREFIX + "endpoints"
SLOW_KEY = PREFIX + "slow"
SAMPLES = 1000
SLOW_KEEP = 100
# Latency buckets (seconds) of the request histogram.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _redis():
    from ..worker import get_redis

    return get_redis(current_app)


def _bucket(seconds):
    for le in BUCKETS:
        if seconds <= le:
            return repr(le)
    return "+Inf"


def record_request(endpoint, method, path, status, duration_ms, request_id):
    """Add one request to the shared figures; a Redis failure is logged, never raised."""
    key = f"{PREFIX}req:{endpoint}"
    pipe = _redis().pipeline(transaction=False)
    pipe.sadd(ENDPOINTS_KEY, endpoint)
    pipe.hincrby(key, "count", 1)
    if status >= 500:
        pipe.hincrby(key, "errors", 1)
    elif status >= 400:
        pipe.hincrby(key, "client_errors", 1)
    pipe.hincrby(key, f"h:{status}:{_bucket(duration_ms / 1000)}", 1)
    pipe.hincrby(key, f"h:{status}:count", 1)
    pipe.hincrbyfloat(key, f"h:{status}:sum", duration_ms / 1000)
    pipe.lpush(f"{key}:samples", round(duration_ms, 3))
    pipe.ltrim(f"{key}:samples", 0, SAMPLES - 1)
    if duration_ms > current_app.config["SLOW_REQUEST_MS"]:
        pipe.lpush(SLOW_KEY, json.dumps({
            "endpoint": endpoint, "method": method, "path": path[:500], "status": status,
            "duration_ms": round(duration_ms, 1), "at": isoformat(utcnow()), "request_id": request_id}))
        pipe.ltrim(SLOW_KEY, 0, SLOW_KEEP - 1)
    try:
        pipe.execute()
    except RedisError as error:
        log.warning("could not record request timing: %s", type(error).__name__)


def percentile(sorted_values, fraction):
    """The nearest-rank percentile of an ascending list, or None when it is empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def summary(durations):
    values = sorted(durations)
    return {"p50_ms": percentile(values, 0.50), "p95_ms": percentile(values, 0.95),
            "p99_ms": percentile(values, 0.99)}


def endpoint_figures():
    """Per endpoint: count, errors, client_errors and p50/p95/p99 over the latest samples."""
    connection = _redis()
    endpoints = sorted(e.decode() for e in connection.smembers(ENDPOINTS_KEY))
    pipe = connection.pipeline(transaction=False)
    for endpoint in endpoints:
        pipe.hmget(f"{PREFIX}req:{endpoint}", "count", "errors", "client_errors")
        pipe.lrange(f"{PREFIX}req:{endpoint}:samples", 0, -1)
    answers = pipe.execute()
    figures = []
    for i, endpoint in enumerate(endpoints):
        count, errors, client_errors = (int(v or 0) for v in answers[2 * i])
        samples = [float(v) for v in answers[2 * i + 1]]
        figures.append({"endpoint": endpoint, "count": count, "errors": errors, "client_errors": client_errors,
                        **summary(samples)})
    return figures


def slow_requests():
    """The latest requests over ``SLOW_REQUEST_MS``, slowest first."""
    found = [json.loads(raw) for raw in _redis().lrange(SLOW_KEY, 0, -1)]
    return sorted(found, key=lambda entry: entry["duration_ms"], reverse=True)


def histograms():
    """``{(endpoint, status): {"buckets": {le: n}, "sum": s, "count": n}}`` for ``/metrics``."""
    connection = _redis()
    endpoints = sorted(e.decode() for e in connection.smembers(ENDPOINTS_KEY))
    pipe = connection.pipeline(transaction=False)
    for endpoint in endpoints:
        pipe.hgetall(f"{PREFIX}req:{endpoint}")
    found = {}
    for endpoint, raw in zip(endpoints, pipe.execute()):
        for field, value in raw.items():
            kind, _, rest = field.decode().partition(":")
            if kind != "h":
                continue
            status, _, part = rest.partition(":")
            entry = found.setdefault((endpoint, status), {"buckets": {}, "sum": 0.0, "count": 0})
            if part == "sum":
                entry["sum"] = float(value)
            elif part == "count":
                entry["count"] = int(value)
            else:
                entry["buckets"][part] = int(value)
    return found


def reset():
    """Forget every recorded timing (tests, or an operator starting afresh)."""
    connection = _redis()
    keys = list(connection.scan_iter(match=PREFIX + "*", count=500))
    if keys:
        connection.delete(*keys)
