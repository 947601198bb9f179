"""Where committed events meet this process's GraphQL subscriptions.

The Socket.IO manager (``realtime/manager.py``) sees every ``beacon.deliver`` message of
every project on every server process, in seq order per project, whoever committed the
change (a web process or a worker); it hands each to ``deliver`` here. Subscriptions
wait on rooms named as ``/realtime``'s (``project:WEB``, ``issue:42``), so an event goes
where ``broadcast.rooms_for`` sends it. ``deliver`` only queues: rendering needs the
database and runs on each connection's own thread (``websocket.py``).
"""
import threading
from collections import defaultdict

from ..extensions import socketio
from ..realtime.broadcast import rooms_for

BATCH_NEWS = ("batch.progress", "batch.finished")
_lock = threading.Lock()
_waiting = defaultdict(set)  # room -> subscriptions of this process; emptied as they end


def listen():
    """Make this process hear the message queue. python-socketio starts listening on a
    process's first Socket.IO connection: one with only GraphQL sockets would never hear."""
    server = socketio.server
    with _lock:
        if not server.manager_initialized:
            server.manager_initialized = True
            server.manager.initialize()


def follow(room, subscription):
    with _lock:
        _waiting[room].add(subscription)


def unfollow(room, subscription):
    with _lock:
        followers = _waiting.get(room)
        if followers is not None:
            followers.discard(subscription)
            if not followers:
                del _waiting[room]


def deliver(_project_key, events):
    """Queue each event for the subscriptions of its rooms (each once, in order)."""
    if not _waiting:
        return
    for event in events:
        with _lock:
            followers = set().union(*(_waiting.get(room, ()) for room in rooms_for(event)))
        for subscription in followers:
            subscription.push(event)


def deliver_batch_news(name, data):
    """Queue a batch's ``batch.progress`` or ``batch.finished`` for its subscriptions."""
    if not _waiting or name not in BATCH_NEWS:
        return
    with _lock:
        followers = set(_waiting.get(f"batch:{data['id']}", ()))
    for subscription in followers:
        subscription.push((name, data))
