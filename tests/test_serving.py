"""Serving: ``python app.py`` on gunicorn's threaded worker (headers, one JSON access line per
request, WebSockets that open and close cleanly, HOST, stopping, the embedded worker), the
one start-up path, Engine.IO's responses, and an instance folder for its owner only."""
import json
import os
import signal
import socket
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


@pytest.mark.backends("production")
def test_app_py_is_no_development_server_and_logs_one_json_line_per_request(start_server, factory):
    server = start_server()
    auth = factory.headers(factory.user())
    sent = [("GET", "/healthz", {}, None), ("GET", "/api/v1/projects", auth, None),
            ("POST", "/api/v1/projects", {**auth, "Content-Type": "application/json"}, b"{not json"),
            ("GET", "/no/such/page", {}, None), ("GET", "/socket.io/?EIO=4&transport=polling", {}, None)]
    for n, (method, path, headers, body) in enumerate(sent):
        response = requests.request(method, server.url + path, headers={**headers, "X-Request-ID": f"serving-{n}"},
                                    data=body, timeout=10)
        assert response.headers["Server"] == "gunicorn"  # not Werkzeug/x Python/y
        assert response.headers["X-Request-ID"] == f"serving-{n}"
    lines = wait_for(lambda: [access_lines(server, request_id=f"serving-{n}") for n in range(len(sent))]
                     if access_lines(server, request_id=f"serving-{len(sent) - 1}") else None)
    assert [len(found) for found in lines] == [1] * len(sent)
    assert [(r["method"], r["path"], r["status"]) for [r] in lines] == [
        ("GET", "/healthz", 200), ("GET", "/api/v1/projects", 200), ("POST", "/api/v1/projects", 400),
        ("GET", "/no/such/page", 404), ("GET", "/socket.io/", 200)]
    output = server.output()
    assert "development server" not in output and "Werkzeug" not in output and "\x1b[" not in output
    assert {r["logger"] for r in records(server)}.isdisjoint({"werkzeug", "gunicorn.access"})


def raw_request(server, data):
    """Send ``data`` as it is (no client would) and return the status, headers and body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(data)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    return int(lines[0].split()[1]), dict(line.split(": ", 1) for line in lines[1:]), body


@pytest.mark.backends("production")
def test_a_request_the_server_cannot_read_is_a_problem_not_an_html_page(start_server):
    server = start_server()
    assert requests.get(f"{server.url}/healthz?padding={'a' * 6000}", timeout=10).ok  # 8 KB URLs reach the app
    unreadable = [(b"GET /healthz?padding=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 400),
                  (b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad\x00Name: 1\r\n\r\n", 400),
                  (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 431)]
    for data, expected in unreadable:
        status, headers, body = raw_request(server, data)
        assert (status, headers["Content-Type"]) == (expected, "application/problem+json")
        problem = json.loads(body)
        assert problem["status"] == expected and problem["detail"].startswith("The request could not be read")
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["Cache-Control"] == "no-store"


@pytest.mark.backends("production")
def test_websockets_upgrade_and_close_cleanly(start_server, factory):
    server = start_server()
    owner = factory.user("Owner")
    factory.project(owner, "WEB")
    upgraded = socket_client(server, factory.token(owner), transports=("polling", "websocket"))
    assert wait_for(lambda: upgraded.transport() == "websocket", timeout=5)  # polling, then the upgrade
    assert upgraded.call("join", {"room": "project:WEB"}, namespace=NAMESPACE, timeout=10)["ok"]
    direct = socket_client(server, factory.token(owner))
    assert direct.transport() == "websocket"
    assert direct.call("join", {"room": "project:WEB"}, namespace=NAMESPACE, timeout=10)["ok"]
    upgraded.disconnect()
    direct.disconnect()
    closed = wait_for(lambda: len(access_lines(server, path="/socket.io/", status=101)) == 2 and
                      access_lines(server, path="/socket.io/", status=101))
    assert closed and all(r["duration_ms"] > 0 for r in closed)  # logged once each socket closed
    assert "Bad request syntax" not in server.output()
    assert [r for r in records(server) if r["level"] in ("warning", "error", "critical")] == []


@pytest.mark.backends("production")
def test_app_py_in_eventlet_mode_serves_on_eventlets_own_server(start_server, factory):
    server = start_server(SOCKETIO_ASYNC_MODE="eventlet")
    response = requests.get(f"{server.url}/healthz", headers={"X-Request-ID": "green-1"}, timeout=10)
    assert response.ok and "Server" not in response.headers
    client = socket_client(server, factory.token(factory.user()))
    assert client.transport() == "websocket"
    assert len(wait_for(lambda: access_lines(server, False, request_id="green-1"))) == 1
    other = [line for line in server.output().splitlines() if "/healthz" in line and not line.startswith("{")]
    assert other == []  # eventlet's own access log is off
    started = time.monotonic()
    server.popen.send_signal(signal.SIGTERM)
    assert server.popen.wait(10) == 0 and time.monotonic() - started < 3
    assert wait_for(lambda: not client.connected, timeout=5)
    assert access_lines(server, False, path="/socket.io/", status=101)


@pytest.mark.backends("production")
def test_each_open_websocket_holds_one_of_the_server_threads(start_server, factory):
    """What the README tells an admin sizing ``SERVER_THREADS``."""
    server = start_server(SERVER_THREADS="2")
    token = factory.token(factory.user())
    first, second = socket_client(server, token), socket_client(server, token)
    with pytest.raises(requests.Timeout):  # both threads are held: a request waits
        requests.get(f"{server.url}/healthz", timeout=2)
    second.disconnect()
    assert requests.get(f"{server.url}/healthz", timeout=10).ok
    first.disconnect()


def test_host_defaults_to_this_machine_only(start_server):
    local = start_server(HOST=None)
    assert requests.get(f"http://127.0.0.1:{local.port}/healthz", timeout=10).ok
    with pytest.raises(requests.ConnectionError):  # another address of the machine (loopback's 127/8)
        requests.get(f"http://127.0.0.2:{local.port}/healthz", timeout=5)
    everywhere = start_server(HOST="0.0.0.0")
    assert requests.get(f"http://127.0.0.2:{everywhere.port}/healthz", timeout=10).ok


@pytest.mark.backends("production")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_server_at_once_with_sockets_open(start_server, factory, sig):
    server = start_server()
    token = factory.token(factory.user())
    clients = [socket_client(server, token), socket_client(server, token, transports=("polling",))]
    [worker] = children(server.popen.pid)
    started = time.monotonic()
    server.popen.send_signal(sig)
    assert server.popen.wait(10) == 0
    assert time.monotonic() - started < 3  # not the graceful timeout an open socket would cost
    assert gone(worker) and wait_for(lambda: not any(client.connected for client in clients), timeout=5)
    assert "Worker exiting" in server.output()


@pytest.mark.backends("production")
def test_the_worker_process_dies_with_its_master(start_server, factory):
    """A killed master takes its worker with it at once, WebSockets open or not: a worker
    left behind would keep serving and renewing its presence lease."""
    server = start_server()
    client = socket_client(server, factory.token(factory.user()))
    [worker] = children(server.popen.pid)
    server.popen.send_signal(signal.SIGKILL)
    server.popen.wait(5)
    assert wait_for(lambda: gone(worker), timeout=3)
    assert wait_for(lambda: not client.connected, timeout=5)


def test_the_embedded_worker_runs_jobs_in_the_serving_process_only(start_server, factory):
    server = start_server(EMBEDDED_WORKER="1", BACKUP_SCHEDULE="off", BATCH_REAPER_SECONDS="1")
    owner = factory.user("Owner")
    factory.project(owner, "EMB")
    operations = [{"op": "create", "resource": "issue", "data": {"project": "EMB", "title": "Run in the server"}}]
    response = requests.post(f"{server.url}/api/v1/batches", json={"mode": "atomic", "operations": operations},
                             headers=factory.headers(owner), timeout=10)
    assert response.status_code == 202, response.text
    url = f"{server.url}/api/v1/batches/{response.json()['id']}"
    batch = wait_for(lambda: (b := requests.get(url, headers=factory.headers(owner), timeout=10).json())
                     ["status"] == "succeeded" and b, timeout=20)
    assert batch and batch["succeeded"] == 1
    assert "beacon_rq_workers 1.0" in requests.get(f"{server.url}/metrics", timeout=10).text
    [worker] = children(server.popen.pid)
    assert len(os.listdir(f"/proc/{server.popen.pid}/task")) == 1  # the master: no worker, scheduler, upkeep
    assert len(os.listdir(f"/proc/{worker}/task")) > 3
    time.sleep(2.5)  # the reaper is enqueued every second: none of that at INFO
    assert "Enqueued job" not in server.output() and "reap_batches" not in json.dumps(
        [r for r in records(server) if r["level"] == "info" and r["logger"] != "app.worker"])


def test_gunicorn_with_wsgi_py_starts_the_same_things(database_url, factory, tmp_path):
    """``gunicorn -k eventlet -w 1 wsgi:app`` without REDIS_URL runs jobs in its worker too."""
    from tests.support.live import ROOT, Server

    command = [str(ROOT / ".venv/bin/gunicorn"), "-k", "eventlet", "-w", "1", "--no-control-socket",
               "-b", "127.0.0.1:{port}", "wsgi:app"]
    server = Server({"DATABASE_URL": database_url, "BEACON_INSTANCE_PATH": conftest.INSTANCE,
                     "BACKUP_SCHEDULE": "off"}, tmp_path / "wsgi.log", command=command)
    try:
        owner = factory.user("Owner")
        factory.project(owner, "EMB")
        operations = [{"op": "create", "resource": "issue", "data": {"project": "EMB", "title": "Run by wsgi.py"}}]
        response = requests.post(f"{server.url}/api/v1/batches", json={"mode": "atomic", "operations": operations},
                                 headers=factory.headers(owner), timeout=10)
        url = f"{server.url}/api/v1/batches/{response.json()['id']}"
        assert wait_for(lambda: requests.get(url, headers=factory.headers(owner), timeout=10).json()["status"]
                        == "succeeded", timeout=20)
    finally:
        server.kill()


@pytest.mark.backends("production")
def test_the_schedulers_routine_enqueues_are_debug_lines(start_server):
    server = start_server(EMBEDDED_WORKER="1", BACKUP_SCHEDULE="off", BATCH_REAPER_SECONDS="1", LOG_LEVEL="DEBUG")
    enqueued = wait_for(lambda: [r for r in records(server) if "reap_batches" in r["message"]
                                 and r["logger"] != "app.worker" or r["message"] == "enqueued scheduled job reap_batches"])
    assert enqueued and {(r["logger"], r["level"]) for r in enqueued} == {("app.worker", "debug")}


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
