"""``python app.py`` with ``SOCKETIO_ASYNC_MODE=eventlet``: eventlet's own WSGI server.

One process, each request and socket a green thread (app.py monkey patched before any
import): the contract's "app's own eventlet server", beside ``gunicorn -k eventlet -w 1
wsgi:app``. Its own request log is off (one line per request is the app's, from
``ops/requests.py``) and it sends no ``Server`` header. On SIGTERM or SIGINT it closes its
Socket.IO connections, lets the requests in flight finish and returns: eventlet's server
waits for every connection, an open WebSocket's included.
"""
import logging
import signal
import socket

import eventlet
import eventlet.wsgi

from .. import create_app, freeze_startup_heap
from ..ops.logs import configure_root
from .startup import close_sockets, start

log = logging.getLogger(__name__)


def serve(settings):
    configure_root(settings.log_level, settings.log_format)
    app = create_app()
    start(app)
    freeze_startup_heap()
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    listener = eventlet.listen((settings.host, settings.port), family=family)
    server = eventlet.spawn(eventlet.wsgi.server, listener, app, log_output=False)

    def stop(signum, _frame):
        log.info("stopping on %s", signal.Signals(signum).name)
        eventlet.spawn_n(_stop, server)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("listening at http://%s:%s (eventlet)", settings.host, settings.port)
    server.wait()
    log.info("stopped")


def _stop(server):
    close_sockets()
    server.kill(SystemExit)  # its accept loop ends on it, then it waits for the requests in flight
