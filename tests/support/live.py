"""Real server and worker processes for tests that need real sockets."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A child process of the test, with its output in a log file."""

    def __init__(self, args, env, log_path):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        # A None in ``env`` takes the variable away (a server started without HOST).
        full_env = {name: value for name, value in {**os.environ, "PYTHONPATH": str(ROOT), **env}.items()
                    if value is not None}
        # Its own process group, so that stopping it also stops what it started (gunicorn's workers).
        self.popen = subprocess.Popen(args, cwd=ROOT, env=full_env, stdout=self.log, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def output(self):
        self.log.flush()
        return Path(self.log_path).read_text(errors="replace")

    def kill(self, sig=None):
        if self.popen.poll() is None:
            if sig is None:
                self._signal_group(signal.SIGTERM)
                try:
                    self.popen.wait(5)
                except subprocess.TimeoutExpired:
                    self._signal_group(signal.SIGKILL)
            else:
                self.popen.send_signal(sig)
            self.popen.wait(10)
        else:
            self._signal_group(signal.SIGKILL)  # anything it left behind
        self.log.close()

    def _signal_group(self, sig):
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass


class Server(Process):
    """``python app.py`` on a free port; ``url`` is its base URL. ``popen`` is gunicorn's
    master (threading mode), which serves from a worker process of its own. ``command``
    replaces ``python app.py`` (``{port}`` in it is the port)."""

    def __init__(self, env, log_path, port=None, command=None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [part.format(port=self.port) for part in command] if command else [sys.executable, "app.py"]
        super().__init__(args, {"PORT": str(self.port), "HOST": "127.0.0.1", **env}, log_path)
        self.wait_ready()

    def wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.output()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).ok:
                    return
            except (requests.ConnectionError, requests.Timeout):  # gunicorn listens before its worker is up
                time.sleep(0.1)
        raise RuntimeError(f"server did not start:\n{self.output()}")
