"""Send each project's events in ``seq`` order, whichever process committed them.

Two writers commit seq 5 and 6 one after the other, then each emits; without care, 6
can be emitted first. So emitting takes a short lock per project in Redis and reads a
cursor, ``beacon:emitted:{key}``, the last seq sent. A writer whose events come next
sends them; one whose events do not yet come next parks them in Redis and returns. Whoever
sends then also sends the parked events that have become next, so no writer ever waits
for another: waiting writers that polled the lock held up the one whose turn it was (16
concurrent creators in one project fell from 200 to 50 requests a second).

A writer that died between its commit and its emit leaves a gap. Parked events that have
waited ``WAIT_SECONDS`` are sent anyway, after the missing ones, read from the events
table and marked as sent, so clients see neither a gap nor a duplicate. Each server's
upkeep sends such overdue events even when no other writer comes (``send_overdue``).

A cursor at or past a writer's first seq means a rewind (the database was restored or
emptied): the writer sends its events and moves the cursor back, unless they are marked
as sent by such a fill.
"""
import json
import threading
import time

from sqlalchemy import select

from ..events.service import serialize_event
from ..extensions import db
from ..models import Event, Project
from ..redis_client import Lease, get_redis

CURSOR_KEY = "beacon:emitted:{key}"
LOCK_KEY = "beacon:emitting:{key}"
FILLED_KEY = "beacon:filled:{key}:{seq}"
PARKED_KEY = "beacon:parked:{key}"  # sorted set: events waiting for earlier ones, by first seq
PARKED_PROJECTS = "beacon:parked"  # the keys of the projects with parked events
WAIT_SECONDS = 1.0  # how long parked events wait for the writers before them
LOCK_MS = 5000  # a lock outlives a holder that died with it by this much at most


def send_in_order(project_key, events, send):
    """Call ``send(events)`` once the project's earlier events have been sent: now, or
    later by the writer that sends those."""
    first, last = events[0]["seq"], events[-1]["seq"]
    with _locked(project_key):
        done = _cursor(project_key)
        if done >= first:  # a rewind, or a fill sent them already
            if _already_filled(project_key, events):
                return
            send(events)
            done = last
        elif done in (0, first - 1):
            send(events)
            done = last
        else:
            _park(project_key, events)
        _send_parked(project_key, done, send)


def send_overdue(send):
    """Send the parked events that have waited too long, of every project."""
    for member in get_redis().smembers(PARKED_PROJECTS):
        project_key = member.decode()
        with _locked(project_key):
            _send_parked(project_key, _cursor(project_key), send)


def forget_all():
    """Drop every cursor and parked event (after a restore rewinds the projects' seqs)."""
    for pattern in (CURSOR_KEY.format(key="*"), PARKED_KEY.format(key="*")):
        for key in get_redis().scan_iter(match=pattern):
            get_redis().delete(key)
    get_redis().delete(PARKED_PROJECTS)


def _send_parked(project_key, done, send):
    """Send the parked events that come next (after the missing ones, if overdue); save
    the cursor."""
    parked_key = PARKED_KEY.format(key=project_key)
    while True:
        head = get_redis().zrange(parked_key, 0, 0, withscores=True)
        if not head:
            break
        member, first = head[0][0], int(head[0][1])
        parked = json.loads(member)
        if done and first > done + 1:  # (a cursor of 0, unknown, lets anything through)
            if time.time() - parked["at"] < WAIT_SECONDS:
                break
            missing = _load(project_key, done + 1, first - 1)
            _mark_filled(project_key, missing)
            if missing:
                send(missing)
        if first > done:  # else sent already: by a fill, or before a rewind
            send(parked["events"])
            done = parked["events"][-1]["seq"]
        get_redis().zrem(parked_key, member)
    with get_redis().pipeline(transaction=False) as pipe:
        if not head:
            pipe.srem(PARKED_PROJECTS, project_key)
        pipe.set(CURSOR_KEY.format(key=project_key), done)
        pipe.execute()


def _park(project_key, events):
    member = json.dumps({"at": time.time(), "events": events}, separators=(",", ":"))
    with get_redis().pipeline(transaction=False) as pipe:
        pipe.zadd(PARKED_KEY.format(key=project_key), {member: events[0]["seq"]})
        pipe.sadd(PARKED_PROJECTS, project_key)
        pipe.execute()


def _cursor(project_key):
    return int(get_redis().get(CURSOR_KEY.format(key=project_key)) or 0)


class ProcessLocks:
    """This process's lock per project key, kept only while a writer holds or waits for it:
    a long-running server sees every project's key, and a lock kept for each would grow
    without bound."""

    def __init__(self):
        self._guard = threading.Lock()
        self._locks = {}  # project key -> [lock, writers holding or waiting for it]

    def acquire(self, project_key):
        with self._guard:
            entry = self._locks.setdefault(project_key, [threading.Lock(), 0])
            entry[1] += 1
        entry[0].acquire()

    def release(self, project_key):
        with self._guard:
            entry = self._locks[project_key]
            entry[1] -= 1
            if entry[1] == 0:
                del self._locks[project_key]
        entry[0].release()

    def __len__(self):
        return len(self._locks)


_process_locks = ProcessLocks()


class _locked:
    """Hold the project's emit lock for the block: this process's first, so that its own
    writers queue up here rather than poll Redis, then a ``Lease`` on the Redis key."""

    def __init__(self, project_key):
        self.project_key = project_key
        self.key = LOCK_KEY.format(key=project_key)

    def __enter__(self):
        _process_locks.acquire(self.project_key)
        try:
            self.lease = Lease(get_redis(), self.key, LOCK_MS / 1000)
            while not self.lease.hold():
                time.sleep(0.002)
        except BaseException:  # Redis is down: the next writer of this process must not hang here
            _process_locks.release(self.project_key)
            raise

    def __exit__(self, *_exc):
        try:
            self.lease.release()
        finally:
            _process_locks.release(self.project_key)


def _load(project_key, first, last):
    """The committed events ``first..last`` of a project, as payloads (a fresh connection:
    this runs after a commit, where the session may not query)."""
    with db.engine.connect() as connection:
        rows = connection.execute(
            select(Event).join(Project, Project.id == Event.project_id)
            .where(Project.key == project_key, Event.seq.between(first, last)).order_by(Event.seq)).all()
    return [serialize_event(row, project_key) for row in rows]


def _mark_filled(project_key, events):
    pipe = get_redis().pipeline(transaction=False)
    for event in events:
        pipe.set(FILLED_KEY.format(key=project_key, seq=event["seq"]), event["id"], ex=300)
    pipe.execute()


def _already_filled(project_key, events):
    marks = get_redis().mget([FILLED_KEY.format(key=project_key, seq=event["seq"]) for event in events])
    return all(mark is not None and int(mark) == event["id"] for mark, event in zip(marks, events))
