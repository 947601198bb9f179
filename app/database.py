"""Engine settings per database: SQLite pragmas and write transactions; PostgreSQL reads
without transactions and pings of idle connections."""
import time
from contextlib import contextmanager

from flask import g, has_request_context, request
from sqlalchemy import event, exc

READ_METHODS = {"GET", "HEAD", "OPTIONS"}
IDLE_PING_SECONDS = 5


def is_read_only_request():
    return has_request_context() and request.method in READ_METHODS


def configure_engine(engine):
    """Tune transactions per database: see ``_configure_sqlite`` and ``_configure_postgresql``."""
    if getattr(engine, "_beacon_configured", False):
        return
    engine._beacon_configured = True
    engine.hide_parameters = True  # a failed statement's message (logged) must not carry its values
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    elif engine.dialect.name == "postgresql":
        _configure_postgresql(engine)


def _configure_postgresql(engine):
    """Run read-only requests without BEGIN and ROLLBACK: two round trips fewer each.

    Under READ COMMITTED every statement reads its own snapshot, with or without a
    transaction around it, so a read request loses nothing. Writes keep their transaction.
    """

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        if is_read_only_request():
            connection.connection.dbapi_connection.autocommit = True  # client-side, no round trip

    @event.listens_for(engine.pool, "reset")
    def on_reset(dbapi_connection, _record, _state):
        if dbapi_connection.autocommit:
            dbapi_connection.autocommit = False

    _ping_idle_connections(engine)


def _ping_idle_connections(engine):
    """Ping a pooled connection before handing it out only when it has sat idle, where a
    restarted or failed-over server leaves dead ones behind. ``pool_pre_ping`` pings on
    every checkout: a round trip on every request, for connections that were just used."""

    @event.listens_for(engine.pool, "checkin")
    def on_checkin(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def on_checkout(dbapi_connection, record, _proxy):
        if time.monotonic() - record.info.get("idle_since", 0) < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error:
            raise exc.DisconnectionError() from None  # the pool replaces it and checks out again


def _configure_sqlite(engine):
    """Give SQLite foreign keys, WAL, a busy timeout, and write locks taken up front."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, issue BEGIN (the driver's implicit one is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        # A deferred transaction that reads, then writes, fails at once with SQLITE_BUSY
        # when another writer got in between; IMMEDIATE waits for the lock instead.
        # Read-only requests keep a deferred (shared) transaction.
        deferred = is_read_only_request() or (has_request_context() and g.get("beacon_reads_first", False))
        connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


@contextmanager
def reads_first():
    """Begin this write request's transactions deferred inside the block, so that on SQLite
    its reads do not queue behind a long writer (a running batch); commit before writing."""
    g.beacon_reads_first = True
    try:
        yield
    finally:
        g.beacon_reads_first = False


def add_unique(row, conflict_detail):
    """Add and flush ``row``; a unique-constraint violation becomes a 409 with this detail."""
    from sqlalchemy.exc import IntegrityError

    from .errors import conflict
    from .extensions import db

    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise conflict(conflict_detail) from None
    return row
