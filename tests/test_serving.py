"""Serving: ``python app.py`` on gunicorn's threaded worker (headers, one JSON access line per
request, WebSockets that open and close cleanly, HOST, stopping, the embedded worker), the
one start-up path, Engine.IO's responses, and an instance folder for its owner only."""
import json
import os
import signal
import stat
import time

import pytest
import requests
import socketio
from sqlalchemy import text

from tests import conftest
from tests.support import services
from tests.support.batches import children

NAMESPACE = "/realtime"


def records(server, strict=True):
    """The server's log lines as JSON objects. Strict: each line must be one (in eventlet
    mode, eventlet prints its deprecation warning as plain text first)."""
    lines = [line for line in server.output().splitlines() if line.strip()]
    return [json.loads(line) for line in lines if strict or line.startswith("{")]


def access_lines(server, strict=True, **match):
    return [r for r in records(server, strict) if r["logger"] == "beacon.request" and match.items() <= r.items()]


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    return predicate()


def gone(pid):
    """True once ``pid`` has exited (a zombie left for init to reap counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as status:
            return status.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def socket_client(server, token, transports=("websocket",)):
    client = socketio.Client(reconnection=False)
    client.connect(server.url, auth={"token": token}, namespaces=[NAMESPACE], transports=list(transports),
                   wait_timeout=10)
    return client


def test_start_runs_the_upkeep_and_embedded_worker_once_per_app_and_process(make_app, monkeypatch):
    from app.serving import startup

    started = []
    monkeypatch.setattr(startup, "start_upkeep", lambda app: started.append(("upkeep", app)))
    monkeypatch.setattr(startup, "start_embedded_worker", lambda app: started.append(("worker", app)))
    embedded, linked = make_app(EMBEDDED_WORKER=True), make_app(EMBEDDED_WORKER=False)
    assert [startup.start(embedded), startup.start(embedded), startup.start(linked), startup.start(linked)] == [
        True, False, True, False]
    assert started == [("upkeep", embedded), ("worker", embedded), ("upkeep", linked)]


def test_a_socket_connection_starts_nothing(make_app, factory):
    """Only ``serving.start`` starts the upkeep: connecting used to start it lazily."""
    from app.extensions import socketio as server_socketio

    app = make_app()
    client = server_socketio.test_client(app, namespace=NAMESPACE, auth={"token": factory.token(factory.user())})
    try:
        assert client.is_connected(NAMESPACE)
        assert "beacon_realtime_upkeep" not in app.extensions and "beacon_serving" not in app.extensions
    finally:
        client.disconnect(namespace=NAMESPACE)


@pytest.mark.parametrize("path,status", [("/socket.io/?EIO=4&transport=polling", 200),
                                         ("/socket.io/?EIO=4&transport=carrier-pigeon", 400)])
def test_engineio_responses_carry_the_security_headers_id_and_log_line(client, caplog, path, status):
    caplog.set_level("INFO", logger="beacon.request")
    response = client.get(path, headers={"X-Request-ID": "poll-1"})
    assert response.status_code == status
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin" and headers["Cache-Control"] == "no-store"
    assert headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert headers["X-Request-ID"] == "poll-1"
    [line] = [r for r in caplog.records if r.name == "beacon.request"]
    assert (line.path, line.status, line.request_id, line.endpoint) == ("/socket.io/", status, "poll-1", "GET /socket.io/")


@pytest.mark.parametrize("before", ["nothing", "loose files"])
def test_the_instance_folder_and_database_are_the_owners_only(tmp_path, monkeypatch, before):
    from app import create_app
    from app.extensions import db

    folder, umask = tmp_path / "instance", os.umask(0o022)
    database = folder / "beacon.db"
    try:
        if before == "loose files":  # left by a start before this rule
            folder.mkdir(mode=0o755)
            for name in ("beacon.db", "beacon.db-wal", "beacon.db-shm", "secret_key"):
                (folder / name).write_bytes(b"" if name != "secret_key" else b"k" * 64)
                (folder / name).chmod(0o644)
        monkeypatch.setenv("BEACON_INSTANCE_PATH", str(folder))
        monkeypatch.delenv("SECRET_KEY", raising=False)
        app = create_app(conftest.test_config(f"sqlite:///{database}"))
        with app.app_context():
            db.session.execute(text("CREATE TABLE written (x INTEGER)"))  # a write: -wal and -shm exist
            db.session.commit()
            modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in [folder, *folder.iterdir()]}
        services.dispose(app)
    finally:
        os.umask(umask)
    assert modes == {"instance": 0o700, "beacon.db": 0o600, "beacon.db-wal": 0o600, "beacon.db-shm": 0o600,
                     "secret_key": 0o600}
