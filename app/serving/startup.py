"""One start-up path: ``start(app)`` starts what a serving process runs beside its requests.

That is the realtime upkeep (presence leases and diffs, typing that lapses, expired
sessions, overdue events) and, in embedded mode (no ``REDIS_URL``), the RQ worker thread
and the scheduler. Every entry point that serves calls it once its app is made, in the
process that serves: ``python app.py`` (in gunicorn's worker, never in the master that
forks it; or in the eventlet server's process) and ``wsgi.py`` (``gunicorn -k eventlet -w 1
wsgi:app``); a test that needs an upkeep in process calls it too (the in-process Socket.IO
tests today drive the upkeep's steps themselves). Nothing starts them lazily: a Socket.IO
connection, a CLI command, a job or a ``flask worker`` process never does.
"""
import os
import threading

from ..extensions import socketio
from ..realtime.upkeep import start_upkeep
from ..worker import start_embedded_worker

_lock = threading.Lock()


def start(app):
    """Start the upkeep and, in embedded mode, the worker thread and scheduler: once per
    app and process (a forked child starts its own). True when this call started them."""
    with _lock:
        if app.extensions.get("beacon_serving") == os.getpid():
            return False
        app.extensions["beacon_serving"] = os.getpid()
    start_upkeep(app)
    if app.config["EMBEDDED_WORKER"]:
        start_embedded_worker(app)
    return True


def close_sockets():
    """Close this process's Socket.IO connections, as a stopping server does: their clients
    reconnect (here once it is back, or to another process), and their WebSockets and long
    polls no longer hold the server's threads. Engine.IO's own ``disconnect()`` waits for
    each socket's close packet to be fetched, which a polling client that went away never
    does: each socket is closed here without waiting."""
    if socketio.server is None:  # no app made yet
        return
    engineio = socketio.server.eio
    for socket in list(engineio.sockets.values()):
        socket.close(wait=False, reason=engineio.reason.SERVER_DISCONNECT)
