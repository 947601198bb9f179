"""``python app.py`` in threading mode: gunicorn's threaded worker (gthread), one worker process.

Why this server: it is a production server (no development-server warning, no Werkzeug
in the response path), it serves Flask-SocketIO's threading mode with real WebSockets
through simple-websocket, and it keeps the code async-mode agnostic, while eventlet is
in bugfix-only mode and its one green loop has a long tail (NOTES.md: a p99 of ~470 ms
against 33 ms for gthread on the same endpoint). The production shape stays one eventlet
server per process (``wsgi.py``); this is the one-process embedded server of ``make run``.

- One worker (``-w 1``): a Socket.IO session lives in the process it first reached, and
  embedded mode keeps its Redis stand-in, worker thread and scheduler in that process.
- ``SERVER_THREADS`` (100) pool threads. Each open WebSocket holds one for its whole life
  (with about three more threads of its own); requests share the rest. With every thread
  held, a new request waits: size it for the browser tabs you expect plus a few.
- The app is made in the worker, after the fork (no preload): the master holds no app, no
  thread and no connection, and ``start(app)`` runs once, in the process that serves.
- One access line per request, the app's own (``ops/requests.py``); gunicorn's messages go
  through the root logger, as JSON lines like every other. No control socket: several
  servers run on one machine (tests, benchmarks) and would share its one default path.
- SIGTERM, SIGINT: the worker closes its Socket.IO connections (their clients reconnect,
  to this server once it is back or to another) and its idle keep-alive connections,
  finishes its requests and exits; an open WebSocket, a long poll or an idle keep-alive
  connection would otherwise hold it for the whole graceful timeout.
- The worker never outlives its master (Linux): see ``_die_with_parent``.
- Request lines of up to 8 KB (gunicorn's most; its default is 4 KB). A request it cannot
  read (longer, or a malformed header) is a 4xx problem+json like any bad input.

This is the one module that knows gunicorn's workings beyond its settings (the threaded
worker's hooks and connection queues); tests/test_serving.py fails when they change.
"""
import ctypes
import json
import logging
import os
import signal
import sys

from gunicorn import glogging, util
from gunicorn.app.base import BaseApplication
from gunicorn.http import errors as http_errors
from gunicorn.workers.gthread import ThreadWorker
from werkzeug.http import HTTP_STATUS_CODES

from .. import create_app, freeze_startup_heap
from ..errors import PROBLEM_TYPE
from ..ops.logs import configure_root
from ..ops.security import DATA_HEADERS
from .startup import close_sockets, start

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
GRACEFUL_SECONDS = 10  # what a stopping worker gives its requests in flight
# Requests gunicorn cannot read, answered by ``Worker.handle_error`` as problem+json.
UNREADABLE = {http_errors.LimitRequestHeaders: 431, http_errors.LimitRequestLine: 400,
              http_errors.InvalidRequestLine: 400, http_errors.InvalidRequestMethod: 400,
              http_errors.InvalidHTTPVersion: 400, http_errors.InvalidHeader: 400,
              http_errors.InvalidHeaderName: 400, http_errors.ObsoleteFolding: 400}


class Server(BaseApplication):
    """gunicorn, configured here rather than from its command line or a config file."""

    def __init__(self, settings):
        self.settings = settings
        super().__init__()

    def load_config(self):
        host = f"[{self.settings.host}]" if ":" in self.settings.host else self.settings.host
        # URLs of up to 8 KB (gunicorn's most, nginx's default), not its own default of 4 KB.
        options = {"bind": [f"{host}:{self.settings.port}"], "workers": 1, "worker_class": Worker,
                   "threads": self.settings.threads, "graceful_timeout": GRACEFUL_SECONDS,
                   "limit_request_line": 8190, "logger_class": Log, "control_socket_disable": True,
                   "proc_name": "beacon"}
        for name, value in options.items():
            self.cfg.set(name, value)

    def load(self):
        """Make the app in the worker process and start what it runs beside requests."""
        app = create_app()
        start(app)
        freeze_startup_heap()
        return app


class Worker(ThreadWorker):
    """gunicorn's threaded worker that closes its Socket.IO connections when told to stop,
    dies with its master, and answers what it cannot read as problem+json."""

    def init_process(self):
        _die_with_parent(self.ppid)
        super().init_process()

    def handle_exit(self, sig, frame):
        """SIGTERM: stop accepting, then (on the worker's loop, not in the handler) ``stop``."""
        super().handle_exit(sig, frame)
        self.method_queue.defer(self.stop)

    def stop(self):
        """Close the Socket.IO connections and the idle keep-alive ones: gunicorn's stopping
        loop waits for every connection, and wakes to drop an idle one only when an event
        comes or the graceful timeout ends, so one left idle holds the worker to the end."""
        close_sockets()
        for idle in (*self.keepalived_conns, *self.pending_conns):
            idle.timeout = 0  # nothing in flight on them
        self.murder_keepalived()
        self.murder_pending()

    def handle_quit(self, sig, frame):
        """SIGINT, SIGQUIT (the master's fast stop): the same. Requests are short and the
        sockets are closed at once either way, while gunicorn's own quick exit would wait
        for every pool thread, a WebSocket's included."""
        self.handle_exit(sig, frame)

    def handle_error(self, req, client, addr, exc):
        """A request gunicorn cannot read (a line too long, a malformed header) is bad input
        like any other: a 4xx problem+json, not gunicorn's HTML page. The rest is gunicorn's."""
        status = next((code for kind, code in UNREADABLE.items() if isinstance(exc, kind)), None)
        if status is None:
            return super().handle_error(req, client, addr, exc)
        self.log.warning("unreadable request from %s: %s", (addr or ("",))[0], exc)
        util.write_nonblock(client, problem_response(status, f"The request could not be read: {exc}."))
        return None


def problem_response(status, detail):
    """A whole HTTP response carrying a problem, written on the socket when the app never ran."""
    title = HTTP_STATUS_CODES[status]
    body = json.dumps({"type": PROBLEM_TYPE, "title": title, "status": status, "detail": detail}).encode()
    headers = [("Content-Type", "application/problem+json"), ("Content-Length", str(len(body))),
               ("Connection", "close"), *DATA_HEADERS]
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return f"HTTP/1.1 {status} {title}\r\n{head}\r\n".encode("latin-1") + body


class Log(glogging.Logger):
    """gunicorn's messages through the root logger (JSON lines); no access log of its own."""

    def setup(self, cfg):
        self.error_log.propagate = True
        self.error_log.setLevel(logging.NOTSET)


def _die_with_parent(master_pid):
    """Have the kernel kill this worker the moment its master dies. Otherwise gunicorn's
    worker notices within a second and then finishes its connections for up to the
    graceful timeout, WebSockets included: all that time it serves, and renews its
    presence lease, so the other processes cannot tell that its server is gone."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != master_pid:  # the master died between the fork and the prctl
        os._exit(1)


def serve(settings):
    configure_root(settings.log_level, settings.log_format)
    try:
        Server(settings).run()
    except SystemExit as stopped:  # how gunicorn's master ends, once its worker is gone
        # The master holds no app, connection or file to tidy, while the interpreter's own
        # teardown of the modules it imported took 0.5-1.3 s on a busy machine: a process
        # still there, long after it stopped serving, for whoever waits on it.
        code = 0 if stopped.code is None else stopped.code
        if not isinstance(code, int):
            print(code, file=sys.stderr)  # what sys.exit would print
            code = 1
        logging.shutdown()
        os._exit(code)
