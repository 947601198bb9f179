"""Engine settings: pooled PostgreSQL connections that may be dead are checked before use,
and a database that cannot be reached is a 503 the client may retry, never a 500."""
import threading

import pytest
from sqlalchemy import create_engine, text

from app import database
from app.extensions import db


@pytest.mark.backends("postgresql")
def test_a_connection_killed_while_idle_is_replaced_not_failed(make_app, factory, monkeypatch):
    app = make_app()
    client = app.test_client()
    with app.app_context():
        headers = factory.headers(factory.user())
        db.session.remove()
        assert client.get("/api/v1/projects", headers=headers).status_code == 200
        db.session.remove()
        with db.engine.connect() as pooled:  # the pool's one connection, which served the request
            pid = pooled.execute(text("SELECT pg_backend_pid()")).scalar()
        assert db.engine.pool.checkedin() == 1
        killer = create_engine(db.engine.url)
        with killer.connect() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        killer.dispose()
        monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0)  # every pooled connection counts as idle
        assert client.get("/api/v1/projects", headers=headers).status_code == 200


@pytest.mark.backends("postgresql")
def test_a_connection_in_steady_use_is_not_pinged(make_app, factory, monkeypatch):
    app = make_app()
    client = app.test_client()
    pings = []
    with app.app_context():
        headers = factory.headers(factory.user())
        monkeypatch.setattr(db.engine.dialect, "do_ping", lambda connection: pings.append(connection) or True)

        def request():  # the test's app context holds its session: end it, as a request's end would
            db.session.remove()
            assert client.get("/api/v1/projects", headers=headers).status_code == 200
            db.session.remove()

        for _ in range(5):
            request()
        assert pings == []
        monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0)
        request()
        assert len(pings) == 1


def _terminate_backends(url, wait=True):
    """End every other connection to this test database, as a restart or an admin would;
    with ``wait``, return once they are gone."""
    killer = create_engine(url)
    with killer.connect() as connection:
        ended = connection.execute(text(
            f"SELECT count(pg_terminate_backend(pid{', 5000' if wait else ''})) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    killer.dispose()
    return ended


def _fill_pool(app, client, headers, size=4):
    """Make the pool hold ``size`` connections, each just used (so none counts as idle)."""
    barrier = threading.Barrier(size)

    def hold():
        with app.app_context():
            with db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                barrier.wait(10)

    threads = [threading.Thread(target=hold) for _ in range(size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert db.engine.pool.checkedin() >= size


@pytest.mark.backends("postgresql")
def test_terminated_backends_cost_no_request_after_them(make_app, factory):
    """Issue 15: after pg_terminate_backend, requests answered 500 (psycopg OperationalError on
    stale pooled connections that had been used moments before, so were not pinged)."""
    app = make_app()
    client = app.test_client()
    with app.app_context():
        owner = factory.user()
        headers = factory.headers(owner)
        project = factory.project(owner, "WEB")
        issue = factory.issue(project, owner)
        db.session.remove()
        for round_ in range(3):
            _fill_pool(app, client, headers)
            assert _terminate_backends(db.engine.url) >= 4
            for method, url, body in [("GET", "/api/v1/projects", None),  # ORM
                                      ("GET", "/api/v1/projects/WEB/issues", None),  # Core access query, page cache
                                      ("GET", f"/api/v1/issues/{issue.id}", None),
                                      ("POST", "/api/v1/projects/WEB/issues", {"title": f"after {round_}"}),
                                      ("PATCH", f"/api/v1/issues/{issue.id}", {"title": f"again {round_}"})]:
                response = client.open(url, method=method, json=body, headers=headers)
                db.session.remove()
                assert response.status_code < 300, (round_, method, url, response.get_json())


@pytest.mark.backends("postgresql")
def test_backends_terminated_mid_request_or_just_before_are_never_a_500(make_app, factory, monkeypatch):
    app = make_app()
    client = app.test_client()
    with app.app_context():
        headers = factory.headers(factory.user())
        db.session.remove()
        from app.projects import service

        real = service.list_projects

        def dies_midway(*args, **kwargs):
            db.session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
            return real(*args, **kwargs)

        monkeypatch.setattr(service, "list_projects", dies_midway)
        response = client.get("/api/v1/projects", headers=headers)
        db.session.remove()
        assert response.status_code == 503 and response.mimetype == "application/problem+json"
        assert response.headers["Retry-After"] == "5" and response.json["status"] == 503
        monkeypatch.setattr(service, "list_projects", real)
        statuses = []
        for _ in range(5):  # not waiting for the backends to go: a request may race their exit
            _fill_pool(app, client, headers)
            _terminate_backends(db.engine.url, wait=False)
            statuses += [client.get("/api/v1/projects", headers=headers).status_code for _ in range(3)]
            db.session.remove()
        assert set(statuses) <= {200, 503}, statuses
        assert statuses.count(200) >= len(statuses) - 5, statuses  # at most the one racing each round


def test_an_unreachable_database_is_503_with_retry_after(backend, tmp_path):
    from app import create_app
    from tests.conftest import test_config
    from tests.support.live import free_port

    url = (f"postgresql+psycopg://root@127.0.0.1:{free_port()}/nothing" if backend == "postgresql"
           else f"sqlite:///{tmp_path}/no/such/folder/beacon.db")
    app = create_app(test_config(url))
    client = app.test_client()
    for response in (client.get("/api/v1/projects", headers={"Authorization": "Bearer x"}),
                     client.post("/api/v1/auth/tokens", json={"email": "a@b.c", "password": "secret"})):
        assert response.status_code == 503, response.get_json()
        assert response.mimetype == "application/problem+json" and response.json["status"] == 503
        assert response.headers["Retry-After"] == "5"
        assert "Traceback" not in response.get_data(as_text=True)
    with app.app_context():
        db.engine.dispose()


@pytest.mark.backends("postgresql")
def test_a_first_statement_on_a_connection_that_died_unseen_is_retried(make_app, factory, monkeypatch):
    """The checkout check sees a terminated backend's goodbye; if the backend goes after the
    check, the session's first statement fails and runs again on a fresh connection."""
    app = make_app()
    client = app.test_client()
    with app.app_context():
        owner = factory.user()
        headers = factory.headers(owner)
        factory.project(owner, "WEB")
        db.session.remove()
        monkeypatch.setattr(database, "_has_input", lambda _connection: False)  # the goodbye is still on its way
        for method, url, body in [("GET", "/api/v1/projects", None), ("POST", "/api/v1/projects/WEB/issues",
                                                                        {"title": "after"})]:
            _fill_pool(app, client, headers, size=1)
            _terminate_backends(db.engine.url)
            response = client.open(url, method=method, json=body, headers=headers)
            db.session.remove()
            assert response.status_code < 300, response.get_json()


UNDER_EVENTLET = """
import eventlet
eventlet.monkey_patch()
import json, os, select, psycopg2
from app.database import _has_input
connection, killer = psycopg2.connect(os.environ["DSN"]), psycopg2.connect(os.environ["DSN"])
killer.autocommit = True
before = _has_input(connection)
killer.cursor().execute("SELECT pg_terminate_backend(%s, 5000)", (connection.get_backend_pid(),))
print(json.dumps({"poll": hasattr(select, "poll"), "before": before, "after": _has_input(connection)}))
"""


@pytest.mark.backends("postgresql")
def test_the_socket_check_sees_a_terminated_backend_with_either_driver(database_url):
    """psycopg 3 (threads) and psycopg2 (eventlet, where select has no poll and is green)."""
    import psycopg
    import psycopg2

    from tests.test_eventlet import run

    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    for connect in (psycopg.connect, psycopg2.connect):
        connection, killer = connect(dsn), psycopg.connect(dsn, autocommit=True)
        assert not database._has_input(connection)
        killer.execute("SELECT pg_terminate_backend(%s, 5000)", (connection.info.backend_pid,))
        assert database._has_input(connection)
        connection.close()
        killer.close()
    assert run(UNDER_EVENTLET, {"DSN": dsn}) == {"poll": False, "before": False, "after": True}
