"""Engine settings: pooled PostgreSQL connections that sat idle are checked before use."""
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
