"""Every request: a request id (``X-Request-ID`` in and out), a JSON log line, and its timing.

The id and start time are taken on Flask's ``request_started`` signal, before any
``before_request`` function, so even a request rejected early (malformed JSON, a rate
limit) is logged and timed.

Engine.IO answers ``/socket.io/`` before Flask sees the request, so ``EngineIoRequests``
(a WSGI middleware around it) gives those the same id, the same one log line, and the
security headers. They are not timed into ``perf``: a long poll waits up to 25 s by
design, and a WebSocket's request (logged with 101 once it closes) lasts as long as the
socket.
"""
import logging
import re
import time
import uuid

from flask import current_app, g, request, request_started

from . import perf
from .security import DATA_HEADERS

log = logging.getLogger("beacon.request")

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
UNTIMED = {"/metrics"}
ENGINEIO_PATH = "/socket.io/"  # Flask-SocketIO's default, where its middleware hands requests to Engine.IO


def _request_id(supplied):
    return supplied if REQUEST_ID.match(supplied) else uuid.uuid4().hex


def log_request(method, path, endpoint, status, duration_ms, user_id, remote_addr, request_id):
    """The one access log line of a request."""
    log.info("request", extra={
        "method": method, "path": path, "endpoint": endpoint, "status": status,
        "duration_ms": round(duration_ms, 1), "user_id": user_id, "remote_addr": remote_addr,
        "request_id": request_id})


def _start(_sender, **_extra):
    g.request_id = _request_id(request.headers.get("X-Request-ID", ""))
    g.request_started = time.perf_counter()


def _finish(response):
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers["X-Request-ID"] = request_id
    started = g.get("request_started")
    if started is None or request.path in UNTIMED or request.path.startswith("/static/"):
        return response
    duration_ms = (time.perf_counter() - started) * 1000
    endpoint = f"{request.method} {request.url_rule.rule}" if request.url_rule else f"{request.method} (unmatched)"
    log_request(request.method, request.path, endpoint, response.status_code, duration_ms, g.get("user_id"),
                request.remote_addr, request_id)
    if current_app.config.get("PERFORMANCE_TRACKING", True):
        perf.record_request(endpoint, request.method, request.path, response.status_code, duration_ms, request_id)
    return response


class EngineIoRequests:
    """WSGI middleware: the request id, security headers and log line of ``/socket.io/``."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(ENGINEIO_PATH):
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        request_id = _request_id(environ.get("HTTP_X_REQUEST_ID", ""))
        answered = []

        def respond(status, headers, exc_info=None):
            answered.append(int(status.split(" ", 1)[0]))
            present = {name.lower() for name, _ in headers}
            headers = headers + [(name, value) for name, value in (*DATA_HEADERS, ("X-Request-ID", request_id))
                                 if name.lower() not in present]
            return start_response(status, headers, exc_info)

        try:
            return self.wsgi_app(environ, respond)
        finally:
            # A WebSocket is answered by simple-websocket on the raw socket (101), and the
            # call returns, or raises to end the connection, once the socket has closed.
            upgraded = environ.get("HTTP_UPGRADE", "").lower() == "websocket"
            status = answered[-1] if answered else 101 if upgraded else 500
            method = environ.get("REQUEST_METHOD", "")
            log_request(method, path, f"{method} {ENGINEIO_PATH}", status, (time.perf_counter() - started) * 1000,
                        None, environ.get("REMOTE_ADDR"), request_id)


def install(app):
    request_started.connect(_start, app)
    app.after_request(_finish)
