"""Fixtures: an app per database backend, a client, and factories for users and projects.

The suite runs on SQLite, and on PostgreSQL when it is reachable (with
``REQUIRE_SERVICES=1``, an unreachable PostgreSQL or Redis is a failure, not a skip).
``TEST_DATABASES=sqlite`` or ``=postgresql`` narrows the run.
"""
import os
import tempfile

import pytest
from sqlalchemy import text

from tests.support import services
from tests.support.factory import Factory

INSTANCE = tempfile.mkdtemp(prefix="beacon-test-")
os.environ["BEACON_INSTANCE_PATH"] = INSTANCE
# `make test` runs two pytest-xdist workers: each has a Redis database of its own,
# TEST_REDIS_DB (default 15) for the first and the one below it for the second.
if os.environ.get("PYTEST_XDIST_WORKER"):
    _worker = int(os.environ["PYTEST_XDIST_WORKER"].removeprefix("gw"))
    os.environ["TEST_REDIS_DB"] = str(int(os.environ.get("TEST_REDIS_DB", "15")) - _worker)
# Redis pub/sub channels span its database numbers: runs on one Redis (TEST_REDIS_DB) keep apart.
os.environ["SOCKETIO_CHANNEL"] = f"beacon-test-{os.environ.get('TEST_REDIS_DB', '15')}"
for name in ("DATABASE_URL", "REDIS_URL", "SOCKETIO_MESSAGE_QUEUE", "BACKUP_DIR", "BACKUP_ENCRYPTION_KEY"):
    os.environ.pop(name, None)


def pytest_generate_tests(metafunc):
    """Run each test on every reachable backend, or on the ones its ``backends`` marker names.

    ``@pytest.mark.backends("postgresql")`` limits a test to PostgreSQL;
    ``@pytest.mark.backends("production")`` runs it once, on PostgreSQL when reachable.
    """
    if "backend" not in metafunc.fixturenames:
        return
    found = services.backends()
    marker = metafunc.definition.get_closest_marker("backends")
    if marker and marker.args == ("production",):
        found = found[-1:]
    elif marker:
        found = [b for b in found if b in marker.args]
    metafunc.parametrize("backend", found, indirect=True, scope="session")


@pytest.fixture(scope="session")
def backend(request):
    return request.param


@pytest.fixture(scope="session")
def database_url(backend):
    """A migrated database of the backend for this test session, dropped at the end."""
    url = services.create_database(backend, INSTANCE)
    services.migrate(url)
    yield url
    services.drop_database(backend, url)


def test_config(database_url, **overrides):
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": None,
        "SOCKETIO_MESSAGE_QUEUE": None,
        "EMBEDDED_WORKER": False,
        "ANALYTICS_CACHE_SECONDS": 0,
        "METRICS_CACHE_SECONDS": 0,
        "RATE_LIMIT_SIGNIN": "1000/minute;1000/minute",
        "RATE_LIMIT_MEMBERS": "100000/minute",
        "RATE_LIMIT_API": "100000/minute",  # tests that test the limit set their own
        "RATE_LIMIT_AUTH_FAILURES": "100000/minute",
        "RATE_LIMIT_STORAGE_URI": "memory://",
        "BACKUP_DIR": os.path.join(INSTANCE, "backups"),
    }
    config.update(overrides)
    return config


@pytest.fixture(scope="session")
def session_app(database_url):
    from app import create_app

    app = create_app(test_config(database_url))
    yield app
    services.dispose(app)


@pytest.fixture
def app(session_app):
    """The session's app for this backend, with every table emptied after the test."""
    with session_app.app_context():
        yield session_app
        from app.extensions import db

        db.session.remove()  # end the test's open transaction before emptying the tables
    services.empty_tables(session_app)


@pytest.fixture
def make_app(database_url):
    """Build an app with config overrides (for tests that need other settings)."""
    from app import create_app

    made = []

    def make(**overrides):
        made.append(create_app(test_config(database_url, **overrides)))
        return made[-1]

    yield make
    for app in made:
        services.empty_tables(app)
        services.dispose(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def factory(app, client):
    return Factory(app, client)


@pytest.fixture
def redis_url():
    """A real Redis database for this test, emptied before and after."""
    url = services.redis_url()
    services.flush_redis(url)
    yield url
    services.flush_redis(url)


def scalar(sql, **params):
    """Run one SQL query in the current app's database and return the first column."""
    from app.extensions import db

    return db.session.execute(text(sql), params).scalar()


@pytest.fixture
def start_server(database_url, tmp_path):
    """Start real ``python app.py`` processes on this backend's database."""
    from tests.support.live import Server

    servers = []

    def start(**env):
        env = {"DATABASE_URL": database_url, "BEACON_INSTANCE_PATH": INSTANCE, "EMBEDDED_WORKER": "0",
               "RATE_LIMIT_SIGNIN": "1000/minute;1000/minute", "RATE_LIMIT_API": "100000/minute",
               "RATE_LIMIT_MEMBERS": "100000/minute", "RATE_LIMIT_AUTH_FAILURES": "100000/minute", **env}
        servers.append(Server(env, tmp_path / f"server{len(servers)}.log"))
        return servers[-1]

    yield start
    for server in servers:
        server.kill()
