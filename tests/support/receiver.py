"""A real HTTP server in the test process that receives webhook deliveries.

``answers`` is a list of ``(status, headers, body, delay_seconds)`` served in order (the
last one repeats); every request is kept in ``requests`` as ``(headers, body, path)``, and
the time it arrived (``time.time()``) in ``arrived_at``. bench/webhooks.py uses it too.
"""
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, *answers):
        self.answers = list(answers) or [(200, {}, b"ok", 0)]
        self.requests = []
        self.arrived_at = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                with receiver.arrived:
                    receiver.arrived_at.append(time.time())
                    receiver.requests.append((dict(self.headers), body, self.path))
                    answer = receiver.answers[min(len(receiver.requests), len(receiver.answers)) - 1]
                    receiver.arrived.notify_all()
                status, headers, content, delay = answer
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except OSError:
                    pass  # the sender gave up first (its timeout)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count, timeout=10):
        """Wait until ``count`` requests arrived; return them all."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)
        assert len(self.requests) >= count, f"{len(self.requests)} of {count} requests arrived"
        return self.requests

    def take(self):
        """The requests so far with their arrival times, forgetting them."""
        with self.arrived:
            taken = list(zip(self.arrived_at, self.requests, strict=True))
            self.requests, self.arrived_at = [], []
        return taken

    def close(self):
        self.server.shutdown()
        self.server.server_close()
