"""Every request: a request id (``X-Request-ID`` in and out), a JSON log line, and its timing.

The id and start time are taken on Flask's ``request_started`` signal, before any
``before_request`` function, so even a request rejected early (malformed JSON, a rate
limit) is logged and timed.
"""
import logging
import re
import time
import uuid

from flask import current_app, g, request, request_started

from . import perf

log = logging.getLogger("beacon.request")

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
UNTIMED = {"/metrics"}


def _start(_sender, **_extra):
    supplied = request.headers.get("X-Request-ID", "")
    g.request_id = supplied if REQUEST_ID.match(supplied) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish(response):
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers["X-Request-ID"] = request_id
    started = g.get("request_started")
    if started is None or request.path in UNTIMED or request.path.startswith("/static/"):
        return response
    duration_ms = (time.perf_counter() - started) * 1000
    endpoint = f"{request.method} {request.url_rule.rule}" if request.url_rule else f"{request.method} (unmatched)"
    log.info("request", extra={
        "method": request.method, "path": request.path, "endpoint": endpoint, "status": response.status_code,
        "duration_ms": round(duration_ms, 1), "user_id": g.get("user_id"),
        "remote_addr": request.remote_addr})
    if current_app.config.get("PERFORMANCE_TRACKING", True):
        perf.record_request(endpoint, request.method, request.path, response.status_code, duration_ms, request_id)
    return response


def install(app):
    request_started.connect(_start, app)
    app.after_request(_finish)
