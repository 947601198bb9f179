"""The real services the tests use: databases per backend, Redis, and their clean-up."""
import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")


def require_services():
    return os.environ.get("REQUIRE_SERVICES") == "1"


def _postgres_reachable():
    try:
        engine = create_engine(POSTGRES_ADMIN_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # unreachable for whatever reason; REQUIRE_SERVICES decides
        return False


def backends():
    wanted = [b for b in os.environ.get("TEST_DATABASES", "sqlite,postgresql").split(",") if b]
    found = []
    for name in wanted:
        if name == "postgresql" and not _postgres_reachable():
            if require_services():
                raise pytest.UsageError("PostgreSQL is not reachable and REQUIRE_SERVICES=1")
            continue
        found.append(name)
    return found


def create_database(backend, instance):
    """Create an empty database for this test session; return its URL."""
    if backend == "sqlite":
        return f"sqlite:///{os.path.join(instance, f'test-{uuid.uuid4().hex[:8]}.db')}"
    name = f"beacon_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(backend, url):
    if backend == "sqlite":
        return
    name = make_url(url).database
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def migrate(url):
    """Bring the database to the newest migration, the way ``make run`` does."""
    from flask_migrate import upgrade

    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "EMBEDDED_WORKER": False})
    with app.app_context():
        upgrade()
        from app.extensions import db

        db.engine.dispose()


def empty_tables(app):
    """Delete every row of every table (keeping the schema), and reset the id sequences."""
    from app.extensions import db

    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:  # rowids restart at max+1, so ids start again at 1
                    connection.execute(text(f"DELETE FROM {table}"))


def dispose(app):
    """Close the app's database connections."""
    from app.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def redis_url():
    """A Redis database for this test process (``TEST_REDIS_DB``, default 15)."""
    import redis

    url = f"{REDIS_URL}/{os.environ.get('TEST_REDIS_DB', '15')}"
    try:
        redis.Redis.from_url(url, socket_timeout=2).ping()
    except redis.RedisError:
        if require_services():
            pytest.fail("Redis is not reachable and REQUIRE_SERVICES=1")
        pytest.skip("Redis is not reachable")
    return url


def flush_redis(url):
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
