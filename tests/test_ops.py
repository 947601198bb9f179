"""Operations: jobs and performance figures, /metrics, request ids and JSON logs, rate limits,
security headers and CORS, and /readyz following Redis down and back."""
import json
import re
import subprocess
import time

import pytest

from app.ops.limits import api_counter
from tests.support.jobs import run_queued_jobs
from tests.support.live import free_port
from tests.test_bad_input import assert_problem


@pytest.fixture
def redis_app(make_app, redis_url, factory):
    """An app on this test's real Redis database (its own queue, timings and counters)."""
    from app.worker import set_job_app

    app = make_app(REDIS_URL=redis_url, SOCKETIO_MESSAGE_QUEUE=None, SLOW_REQUEST_MS=0)
    set_job_app(app)
    with app.app_context():
        yield app
    set_job_app(None)


def test_jobs_statuses_results_errors_and_requeue(redis_app, factory):
    from app.worker import enqueue_job
    from tests.support import ops_jobs

    client = redis_app.test_client()
    headers = factory.headers(factory.admin())
    good = enqueue_job(ops_jobs.add, 2, 3, job_type="test.add")
    bad = enqueue_job(ops_jobs.explode, "it broke", job_type="test.explode")
    queued = client.get(f"/api/v1/admin/jobs/{good.id}", headers=headers).json
    assert queued["status"] == "queued" and queued["type"] == "test.add" and queued["started_at"] is None
    assert client.get("/api/v1/admin/jobs", headers=headers).json["queues"][0]["depth"] == 2
    run_queued_jobs(redis_app)
    done = client.get(f"/api/v1/admin/jobs/{good.id}", headers=headers).json
    assert done["status"] == "succeeded" and done["result"] == {"sum": 5} and done["error"] is None
    assert done["enqueued_at"] <= done["started_at"] <= done["ended_at"] and done["ended_at"].endswith("Z")
    failed = client.get(f"/api/v1/admin/jobs/{bad.id}", headers=headers).json
    assert failed["status"] == "failed" and failed["error"] == "ValueError: it broke" and failed["result"] is None
    overview = client.get("/api/v1/admin/jobs", headers=headers).json
    assert overview["queues"][0] == {"name": "beacon", "depth": 0, "running": 0, "failed": 1, "succeeded": 1,
                                     "scheduled": 0}
    assert [j["id"] for j in overview["failed_jobs"]] == [bad.id]
    assert_problem(client.post(f"/api/v1/admin/jobs/{good.id}/requeue", headers=headers), 409)
    requeued = client.post(f"/api/v1/admin/jobs/{bad.id}/requeue", headers=headers)
    assert requeued.status_code == 202 and requeued.json["status"] == "queued"
    assert client.get("/api/v1/admin/jobs", headers=headers).json["queues"][0]["failed"] == 0
    run_queued_jobs(redis_app)
    jobs = client.get("/api/v1/admin/performance", headers=headers).json["jobs"]
    by_type = {j["type"]: j for j in jobs}
    assert by_type["test.add"]["count"] == 1 and by_type["test.add"]["errors"] == 0
    assert by_type["test.explode"]["errors"] == 1 and by_type["test.explode"]["p50_ms"] >= 0


def test_performance_counts_every_process_through_redis(redis_app, make_app, redis_url, factory):
    other = make_app(REDIS_URL=redis_url, SOCKETIO_MESSAGE_QUEUE=None, SLOW_REQUEST_MS=0,
                     PERFORMANCE_FLUSH_SECONDS=0).test_client()  # writes to Redis at once  # a second "process"
    client = redis_app.test_client()
    admin = factory.admin()
    headers = factory.headers(admin)
    factory.project(admin, "WEB")
    for _ in range(3):
        assert client.get("/api/v1/projects/WEB", headers=headers).status_code == 200
        assert other.get("/api/v1/projects/WEB", headers=headers).status_code == 200
    assert other.get("/api/v1/projects/NOPE", headers=headers).status_code == 404
    figures = client.get("/api/v1/admin/performance", headers=headers).json
    endpoint = {e["endpoint"]: e for e in figures["endpoints"]}["GET /api/v1/projects/<string:key>"]
    assert endpoint["count"] == 7 and endpoint["client_errors"] == 1 and endpoint["errors"] == 0
    assert 0 < endpoint["p50_ms"] <= endpoint["p95_ms"] <= endpoint["p99_ms"]
    assert figures["slow_request_ms"] == 0  # every request counts as slow here
    slow = figures["slow_requests"]
    assert len(slow) == 7 and [s["duration_ms"] for s in slow] == sorted((s["duration_ms"] for s in slow), reverse=True)
    assert [(s["status"], bool(s["request_id"])) for s in slow if s["path"] == "/api/v1/projects/NOPE"] == [(404, True)]


def test_metrics_exposes_requests_batches_backups_and_queues(redis_app, factory):
    from datetime import timedelta

    from app.extensions import db
    from app.models import Backup, Batch
    from app.models.base import utcnow
    from app.worker import enqueue_job
    from tests.support import ops_jobs

    client = redis_app.test_client()
    admin = factory.admin()
    headers = factory.headers(admin)
    assert client.get("/api/v1/projects", headers=headers).status_code == 200
    empty = _metrics(client.get("/metrics").get_data(as_text=True))
    assert "beacon_backup_age_seconds" not in empty and not any(k.startswith("beacon_batches{") for k in empty)
    db.session.add_all([
        Batch(user_id=admin.id, mode="atomic", status="succeeded", operations=[], total=5, done=5, succeeded=5),
        Batch(user_id=admin.id, mode="best_effort", status="partially_succeeded", operations=[], total=4, done=4,
              succeeded=3, failed=1),
        Backup(id="20261122T142301Z-aaaa", status="verified", completed_at=utcnow() - timedelta(seconds=120),
               duration_ms=1500),
        Backup(id="20261122T152301Z-bbbb", status="failed", completed_at=utcnow(), duration_ms=250)])
    db.session.commit()
    enqueue_job(ops_jobs.add, 1, 1, job_type="test.add")
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    metric = _metrics(text)
    assert metric['beacon_http_request_duration_seconds_count{endpoint="GET /api/v1/projects",status="200"}'] == 1
    assert metric['beacon_http_request_duration_seconds_bucket{endpoint="GET /api/v1/projects",le="+Inf",'
                  'status="200"}'] == 1
    assert metric['beacon_batches{status="succeeded"}'] == 1
    assert metric['beacon_batch_operations_total{outcome="submitted"}'] == 9
    assert metric['beacon_batch_operations_total{outcome="failed"}'] == 1
    assert 119 <= metric["beacon_backup_age_seconds"] < 180
    assert metric["beacon_backup_last_duration_seconds"] == 0.25
    assert metric['beacon_rq_queue_depth{queue="beacon"}'] == 1
    assert metric['beacon_rq_failed_jobs{queue="beacon"}'] == 0
    assert re.search(r'beacon_socketio_connections\{process="[^"]+"\} 0', text)


def _metrics(text):
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            labels = re.match(r"([^{]+)(\{.*\})?", name)
            if labels.group(2):  # Prometheus sorts nothing: sort the labels to compare
                pairs = sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels.group(2)))
                name = labels.group(1) + "{" + ",".join(f'{k}="{v}"' for k, v in pairs) + "}"
            found[name] = float(value)
    return found


def test_metrics_token(make_app):
    client = make_app(METRICS_TOKEN="s3cret").test_client()
    assert_problem(client.get("/metrics"), 401)
    assert_problem(client.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401)
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_request_ids_and_json_log_lines(client, factory, capsys):
    headers = factory.headers(factory.user())
    capsys.readouterr()
    response = client.get("/api/v1/projects", headers={**headers, "X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    early = client.post("/api/v1/projects", data="{", headers={**headers, "Content-Type": "application/json"})
    assert early.status_code == 400 and early.headers["X-Request-ID"]
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    mine = [line for line in lines if line.get("request_id") == "abc-123"]
    assert mine and mine[0]["message"] == "request" and mine[0]["status"] == 200 and mine[0]["level"] == "info"
    assert mine[0]["endpoint"] == "GET /api/v1/projects" and mine[0]["time"].endswith("Z")
    assert any(line.get("request_id") == early.headers["X-Request-ID"] and line["status"] == 400 for line in lines)


def test_job_log_lines_carry_the_job_id(redis_app, capsys):
    from app.worker import enqueue_job
    from tests.support import ops_jobs

    job = enqueue_job(ops_jobs.add, 1, 2, job_type="test.add")
    run_queued_jobs(redis_app)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert any(line["message"] == "adding" and line.get("job_id") == job.id for line in lines)


def test_api_calls_are_rate_limited_per_token(make_app, factory):
    client = make_app(RATE_LIMIT_API="3/minute").test_client()
    user = factory.user()
    headers, other = factory.headers(user), factory.headers(user)
    for _ in range(3):
        assert client.get("/api/v1/projects", headers=headers).status_code == 200
    limited = client.get("/api/v1/projects", headers=headers)
    problem = assert_problem(limited, 429)
    assert 1 <= int(limited.headers["Retry-After"]) <= 60 and "limit" in problem["detail"]
    assert client.get("/api/v1/projects", headers=other).status_code == 200  # another token has its own count
    assert client.get("/healthz").status_code == 200  # only the API is limited


def test_api_call_counts_are_shared_by_processes_through_redis(make_app, factory, redis_url):
    first, second = (make_app(REDIS_URL=redis_url, RATE_LIMIT_API="4/minute") for _ in range(2))
    headers = factory.headers(factory.user())
    calls = [(first, 200), (first, 200), (second, 200), (second, 200), (first, 429), (second, 429)]
    for app, expected in calls:
        assert app.test_client().get("/api/v1/projects", headers=headers).status_code == expected
        for process in (first, second, first):  # each shares its calls, then reads the others'
            api_counter(process).sync()  # (every SYNC_SECONDS when serving)


def test_api_calls_are_served_when_redis_is_down(make_app, factory):
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0", RATE_LIMIT_API="2/minute")
    headers = factory.headers(factory.user())
    statuses = []
    for _ in range(3):
        statuses.append(app.test_client().get("/api/v1/projects", headers=headers).status_code)
        api_counter(app).sync()
    assert statuses == [200, 200, 429]  # counted in the process meanwhile


def test_security_headers_and_no_cors_by_default(client):
    for url in ("/healthz", "/api/v1/projects", "/nowhere"):
        response = client.get(url, headers={"Origin": "https://evil.example"})
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp and "connect-src 'self'" in csp
        assert "Access-Control-Allow-Origin" not in headers


def test_cors_only_for_configured_origins(make_app):
    client = make_app(CORS_ORIGINS="https://app.example, https://admin.example").test_client()
    allowed = client.options("/api/v1/projects", headers={"Origin": "https://app.example",
                                                          "Access-Control-Request-Method": "POST"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "Authorization" in allowed.headers["Access-Control-Allow-Headers"]
    assert "PATCH" in allowed.headers["Access-Control-Allow-Methods"]
    exposed = allowed.headers["Access-Control-Expose-Headers"].split(", ")
    assert {"ETag", "Retry-After", "Location", "Beacon-Seq"} <= set(exposed)  # what clients of lists and writes read
    other = client.get("/api/v1/projects", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    from app.extensions import socketio

    accepts = socketio.server.eio.cors_allowed_origins  # Socket.IO's check: its own origin and the listed ones
    environ = {"wsgi.url_scheme": "http", "HTTP_HOST": "beacon.test"}
    assert [accepts(origin, environ) for origin in ("https://app.example", "https://admin.example/",
                                                    "http://beacon.test", "https://evil.example")] == [
        True, True, True, False]


def _start_redis(port):
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            redis.Redis(port=port, socket_timeout=0.5).ping()
            return process
        except redis.ConnectionError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start")


def test_readyz_follows_a_private_redis_down_and_back(make_app):
    port = free_port()
    server = _start_redis(port)
    try:
        client = make_app(REDIS_URL=f"redis://127.0.0.1:{port}/0", SOCKETIO_MESSAGE_QUEUE=None).test_client()
        assert client.get("/readyz").json == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}
        server.kill()
        server.wait(10)
        down = client.get("/readyz")
        assert down.status_code == 503
        assert down.json["checks"]["database"] == "ok" and down.json["checks"]["redis"].startswith("error")
        assert client.get("/healthz").status_code == 200  # the process itself is up
        server = _start_redis(port)
        assert client.get("/readyz").status_code == 200
    finally:
        server.kill()
        server.wait(10)
