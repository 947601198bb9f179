"""Request timings kept in Redis, so every server process adds to the same figures.

Per endpoint (``"GET /api/v1/issues/<int:issue_id>"``):

- ``beacon:perf:req:{endpoint}``: hash of counters ``count``, ``errors`` (5xx),
  ``client_errors`` (4xx), and the latency histogram ``h:{status}:{le}``, ``h:{status}:sum``,
  ``h:{status}:count`` that ``/metrics`` reads;
- ``beacon:perf:req:{endpoint}:samples``: the latest ``SAMPLES`` durations in ms (percentiles);
- ``beacon:perf:endpoints``: the endpoints seen; ``beacon:perf:slow``: the latest ``SLOW_KEEP``
  requests over ``SLOW_REQUEST_MS``.

Each process buffers its timings and writes them in one pipeline every
``PERFORMANCE_FLUSH_SECONDS`` (1 s): a Redis round trip per request cost a third of the
throughput under load. Readers flush their own process first; others lag by at most that.

Memory is bounded: endpoints are URL rules (not raw paths), and lists are trimmed on write.
"""
import json
import logging
import math
import threading
import time
from collections import defaultdict

from flask import current_app
from redis.exceptions import RedisError

from ..extensions import per_app
from ..models.base import isoformat, utcnow
from ..redis_client import get_redis

log = logging.getLogger(__name__)

PREFIX = "beacon:perf:"
ENDPOINTS_KEY = PREFIX + "endpoints"
SLOW_KEY = PREFIX + "slow"
SAMPLES = 1000
SLOW_KEEP = 100
FLUSH_SIZE = 500
# Latency buckets (seconds) of the request histogram.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _bucket(seconds):
    for le in BUCKETS:
        if seconds <= le:
            return repr(le)
    return "+Inf"


def record_request(endpoint, method, path, status, duration_ms, request_id):
    """Add one request to this process's buffer, and write the buffer to Redis when it is
    ``PERFORMANCE_FLUSH_SECONDS`` old (or full): one pipeline a second, not one a request."""
    app = current_app._get_current_object()
    slow = None
    if duration_ms > app.config["SLOW_REQUEST_MS"]:
        slow = json.dumps({"endpoint": endpoint, "method": method, "path": path[:500], "status": status,
                           "duration_ms": round(duration_ms, 1), "at": isoformat(utcnow()), "request_id": request_id})
    buffer = _buffer(app)
    with buffer["lock"]:
        buffer["items"].append((endpoint, status, duration_ms, slow))
        due = (len(buffer["items"]) >= FLUSH_SIZE
               or time.monotonic() - buffer["flushed"] >= app.config.get("PERFORMANCE_FLUSH_SECONDS", 1.0))
    if due:
        flush()


def _buffer(app):
    return per_app(app, "beacon_perf_buffer",
                   lambda: {"lock": threading.Lock(), "items": [], "flushed": time.monotonic()})


def flush():
    """Write this process's buffered timings to Redis; a Redis failure is logged, never raised."""
    buffer = _buffer(current_app._get_current_object())
    with buffer["lock"]:
        items, buffer["items"], buffer["flushed"] = buffer["items"], [], time.monotonic()
    if not items:
        return
    counters = defaultdict(int)  # (key, field) -> increment
    sums = defaultdict(float)
    samples = defaultdict(list)
    slow = []
    for endpoint, status, duration_ms, slow_entry in items:
        key = f"{PREFIX}req:{endpoint}"
        counters[(key, "count")] += 1
        if status >= 500:
            counters[(key, "errors")] += 1
        elif status >= 400:
            counters[(key, "client_errors")] += 1
        counters[(key, f"h:{status}:{_bucket(duration_ms / 1000)}")] += 1
        counters[(key, f"h:{status}:count")] += 1
        sums[(key, f"h:{status}:sum")] += duration_ms / 1000
        samples[endpoint].append(round(duration_ms, 3))
        if slow_entry:
            slow.append(slow_entry)
    pipe = get_redis().pipeline(transaction=False)
    pipe.sadd(ENDPOINTS_KEY, *samples)
    for (key, field), amount in counters.items():
        pipe.hincrby(key, field, amount)
    for (key, field), amount in sums.items():
        pipe.hincrbyfloat(key, field, amount)
    for endpoint, values in samples.items():
        pipe.lpush(f"{PREFIX}req:{endpoint}:samples", *values[-SAMPLES:])
        pipe.ltrim(f"{PREFIX}req:{endpoint}:samples", 0, SAMPLES - 1)
    if slow:
        pipe.lpush(SLOW_KEY, *slow[-SLOW_KEEP:])
        pipe.ltrim(SLOW_KEY, 0, SLOW_KEEP - 1)
    try:
        pipe.execute()
    except RedisError as error:
        log.warning("could not record request timings: %s", type(error).__name__)


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
    flush()
    connection = get_redis()
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
    flush()
    found = [json.loads(raw) for raw in get_redis().lrange(SLOW_KEY, 0, -1)]
    return sorted(found, key=lambda entry: entry["duration_ms"], reverse=True)


def histograms():
    """``{(endpoint, status): {"buckets": {le: n}, "sum": s, "count": n}}`` for ``/metrics``."""
    flush()
    connection = get_redis()
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

