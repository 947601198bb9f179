"""Send each project's events in ``seq`` order, whichever process committed them.

Two writers commit seq 5 and 6 one after the other, then each emits; without care, 6
can be emitted first. So emitting takes a short lock per project in Redis and a cursor,
``beacon:emitted:{key}``, the last seq sent: a writer whose first seq is not the next
one waits (briefly) for the writers before it. If one of them died between its commit
and its emit, the next writer, after the wait, sends the missing events from the events
table and marks them sent, so clients see neither a gap nor a duplicate.

A cursor at or past a writer's first seq means a rewind (the database was restored or
emptied): the writer sends its events and moves the cursor back, unless they are marked
as sent by such a fill.
"""
import time
import uuid

from flask import current_app
from sqlalchemy import select

CURSOR_KEY = "beacon:emitted:{key}"
LOCK_KEY = "beacon:emitting:{key}"
FILLED_KEY = "beacon:filled:{key}:{seq}"
WAIT_SECONDS = 1.0  # how long a writer waits for the writers before it
LOCK_MS = 5000  # a lock outlives a holder that died with it by this much at most


def redis():
    from ..worker import get_redis

    return get_redis(current_app)


def send_in_order(project_key, events, send):
    """Call ``send(events)`` once the project's earlier events have been sent."""
    first, last = events[0]["seq"], events[-1]["seq"]
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        token, waiting = _lock(project_key), False
        try:
            done = int(redis().get(CURSOR_KEY.format(key=project_key)) or 0)
            waiting = 0 < done < first - 1
            if waiting and time.monotonic() < deadline:
                continue  # an earlier writer has not sent yet; the lock is released below
            if waiting:
                missing = _load(project_key, done + 1, first - 1)
                _mark_filled(project_key, missing)
                if missing:
                    send(missing)
            elif done >= first and _already_filled(project_key, events):
                return
            send(events)
            redis().set(CURSOR_KEY.format(key=project_key), last)
            return
        finally:
            _unlock(project_key, token)
            if waiting and time.monotonic() < deadline:
                time.sleep(0.005)


def forget_all():
    """Drop every cursor (after a restore rewinds the projects' seqs)."""
    for key in redis().scan_iter(match=CURSOR_KEY.format(key="*")):
        redis().delete(key)


def _lock(project_key):
    token = uuid.uuid4().hex
    while not redis().set(LOCK_KEY.format(key=project_key), token, nx=True, px=LOCK_MS):
        time.sleep(0.002)
    return token


def _unlock(project_key, token):
    key = LOCK_KEY.format(key=project_key)
    with redis().pipeline() as pipe:
        pipe.watch(key)
        if pipe.get(key) == token.encode():
            pipe.multi()
            pipe.delete(key)
            pipe.execute()
        else:
            pipe.unwatch()


def _load(project_key, first, last):
    """The committed events ``first..last`` of a project, as payloads (a fresh connection:
    this runs after a commit, where the session may not query)."""
    from ..events.service import serialize_event
    from ..extensions import db
    from ..models import Event, Project

    with db.engine.connect() as connection:
        rows = connection.execute(
            select(Event).join(Project, Project.id == Event.project_id)
            .where(Project.key == project_key, Event.seq.between(first, last)).order_by(Event.seq)).all()
    return [serialize_event(row, project_key) for row in rows]


def _mark_filled(project_key, events):
    pipe = redis().pipeline(transaction=False)
    for event in events:
        pipe.set(FILLED_KEY.format(key=project_key, seq=event["seq"]), event["id"], ex=300)
    pipe.execute()


def _already_filled(project_key, events):
    marks = redis().mget([FILLED_KEY.format(key=project_key, seq=event["seq"]) for event in events])
    return all(mark is not None and int(mark) == event["id"] for mark, event in zip(marks, events))
