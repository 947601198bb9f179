"""After commit: the one place where what a transaction did reaches the rest of Beacon.

Services record their events in their own transaction (``events.service.record_events``).
The events wait on the session; when the outermost transaction commits, each *consumer*
registered here receives them, in the order registered, once the transaction has given
its connection back to the pool (a consumer may wait for Redis or read the events table,
and holding a connection meanwhile starved the pool under load: bench/load.py, 30 s pool
timeouts with 50 clients). A rollback drops them, and so does the rollback of a
savepoint for the events recorded inside it (``events.service.savepoint``): nothing is
announced that did not happen.

*Resetters* run whenever an outermost transaction ends, committed or rolled back: what a
transaction remembered for itself (the roles and content stamps a request looked up)
is forgotten there.

``create_app`` registers both (``_register_after_commit``): a reader finds every step that
follows a commit there. Consumers are per app, so apps of different settings (tests)
never share them; the SQLAlchemy listeners that drive them are installed once per process.
"""
from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

_PENDING = "beacon_pending_events"  # session.info: recorded, not yet committed
_COMMITTED = "beacon_committed_events"  # committed, waiting for the connection to go back
_REGISTRY = "beacon_after_commit"


def register(app, *, consumers=(), resetters=()):
    """Add ``consumers`` (``f(events)``, the committed events in seq order per project) and
    ``resetters`` (``f(session_info)``) to ``app``'s steps after a transaction."""
    registry = app.extensions.setdefault(_REGISTRY, {"consumers": [], "resetters": []})
    registry["consumers"].extend(consumers)
    registry["resetters"].extend(resetters)
    _install_listeners()


def consumers_of(app):
    """``app``'s consumers of committed events, in the order they run."""
    return app.extensions.setdefault(_REGISTRY, {"consumers": [], "resetters": []})["consumers"]


def pending(session):
    """The events recorded in ``session``'s transaction so far (a list to append to)."""
    return session.info.setdefault(_PENDING, [])


def set_pending(session, events):
    """Put back the pending events as they were (a savepoint rolled back)."""
    session.info[_PENDING] = events


def _steps(kind):
    return current_app.extensions.get(_REGISTRY, {}).get(kind, ())


def _reset(session):
    for resetter in _steps("resetters"):
        resetter(session.info)


def _after_commit(session):
    if session.in_nested_transaction():
        return  # a savepoint was released: nothing is committed yet
    _reset(session)
    events = session.info.pop(_PENDING, None)
    if events:
        session.info.setdefault(_COMMITTED, []).extend(events)


def _after_transaction_end(session, transaction):
    if transaction.parent is None:
        events = session.info.pop(_COMMITTED, None)
        if events:
            for consumer in _steps("consumers"):
                consumer(events)


def _after_rollback(session):
    if session.in_nested_transaction():
        return  # a savepoint: ``events.service.savepoint`` puts back what it dropped
    _reset(session)
    session.info.pop(_PENDING, None)


def _after_soft_rollback(session, previous_transaction):
    if not previous_transaction.nested:
        _after_rollback(session)


def _install_listeners():
    """Drive the steps from every ORM session's transactions (once per process)."""
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_transaction_end", _after_transaction_end)
        event.listen(Session, "after_soft_rollback", _after_soft_rollback)
        event.listen(Session, "after_rollback", _after_rollback)
