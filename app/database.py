"""Engine settings per database: SQLite pragmas and write transactions; PostgreSQL reads
without transactions and checks of pooled connections that may be dead; and which
database errors mean "unavailable" (a 503 the client may retry) rather than a bug."""
import select
import time
from contextlib import contextmanager

from flask import g, has_request_context, request
from sqlalchemy import event, exc
from sqlalchemy.orm import Session

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

    _ping_suspect_connections(engine)
    if not event.contains(Session, "do_orm_execute", _retry_first_statement):
        event.listen(Session, "do_orm_execute", _retry_first_statement)


def _ping_suspect_connections(engine):
    """Ping a pooled connection before handing it out when it may be dead: when it sat idle
    (a restarted or failed-over server leaves dead ones behind) or when the server has sent
    it something, which to an idle connection it does only on the way out (a terminated
    backend's FATAL message and end of stream). A dead one is replaced by the pool.

    Pinging only the idle ones was not enough: under load every connection had been used
    within ``IDLE_PING_SECONDS``, so after ``pg_terminate_backend`` (or a restart) each
    pooled connection failed the next request it served with a 500. Looking at the socket
    costs no round trip (7 us, where a ping took 0.8 ms on the same loaded machine);
    ``pool_pre_ping`` pings on every checkout, a round trip on every request. A connection that dies after the check and before its first statement (the
    server's goodbye had not arrived) is retried by ``_retry_first_statement``; one that
    dies later in a request is not (the request's transaction is gone with it):
    ``unavailable`` makes that a 503.
    """

    @event.listens_for(engine.pool, "checkin")
    def on_checkin(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def on_checkout(dbapi_connection, record, _proxy):
        try:
            if time.monotonic() - record.info.get("idle_since", 0) < IDLE_PING_SECONDS \
                    and not _has_input(dbapi_connection):
                return
            engine.dialect.do_ping(dbapi_connection)
        except (engine.dialect.loaded_dbapi.Error, OSError, ValueError):
            raise exc.DisconnectionError() from None  # the pool replaces it and checks out again


def _retry_first_statement(state):
    """Run the first statement of a session's transaction once more, on a fresh connection,
    when its connection turned out dead: nothing was done in that transaction yet, so
    nothing is lost. Any later statement is not retried (rolling back would silently drop
    the transaction's earlier work), nor a first one while the session holds unflushed
    changes (the rollback would discard them). Core statements on a connection of their
    own have only the checkout check."""
    session = state.session
    if session.in_transaction() or session.new or session.dirty or session.deleted:
        return None
    try:
        return state.invoke_statement()
    except exc.DBAPIError as error:
        if not error.connection_invalidated:
            raise
    session.rollback()  # ends the transaction of the dead connection; the retry checks out another
    return state.invoke_statement()


def _has_input(dbapi_connection):
    """True when the server has sent this idle connection something (polled, no waiting)."""
    fd = dbapi_connection.fileno()
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])  # eventlet's green select: it removes poll


def unavailable(error):
    """True when ``error`` says the database cannot be reached now, rather than that a
    statement is wrong: a connection lost mid-request (SQLAlchemy invalidates it), a
    connection that could not be opened (no statement was sent), or no connection free
    in the pool in time."""
    if isinstance(error, exc.DBAPIError):
        return error.connection_invalidated or (isinstance(error, exc.OperationalError) and error.statement is None)
    return isinstance(error, exc.TimeoutError)


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
