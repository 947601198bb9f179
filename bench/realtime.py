"""Benchmark real-time fan-out and idle connection memory against a bare python-socketio server.

    .venv/bin/python bench/realtime.py [--clients 1000] [--writes 5] [--idle 2000]

Beacon runs as one `gunicorn -k eventlet -w 1` process (embedded presence, no message
queue, like the baseline); the baseline is bench/bare_realtime.py under eventlet. For
each write, latency runs from the event's timestamp (taken in the write's transaction,
just before commit; the baseline stamps it as it emits) to its arrival at each client;
memory is the server's RSS growth per idle connection.
"""
import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import socketio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import database_url_for, drop_database, migrate, seed_issues  # noqa: E402
from tests.support.live import Process, free_port  # noqa: E402


def rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1])
    return 0


def wait_up(url, process):
    for _ in range(200):
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(process.output())


class Crowd:
    """Many socket.io clients; records when each sees each title."""

    def __init__(self, url, token, count, room):
        self.arrivals = {}
        self.lock = threading.Lock()
        self.clients = []

        def one(_):
            client = socketio.Client(reconnection=False, request_timeout=30)
            client.on("issue.created", self._seen, namespace="/realtime")
            for attempt in range(3):  # a handshake can time out while the server is busy accepting others
                try:
                    client.connect(url, auth={"token": token}, namespaces=["/realtime"], transports=["websocket"],
                                   wait_timeout=30)
                    break
                except socketio.exceptions.ConnectionError:
                    if attempt == 2:
                        raise
                    time.sleep(1)
            if room:
                client.call("join", {"room": room}, namespace="/realtime", timeout=60)
            return client

        with ThreadPoolExecutor(8) as pool:
            self.clients = list(pool.map(one, range(count)))

    def _seen(self, event):
        now = time.time()
        title = event["data"]["issue"]["title"]
        with self.lock:
            self.arrivals.setdefault(title, []).append((now, event["at"]))

    def latencies(self, send, writes):
        samples = []
        for _ in range(writes):
            title = uuid.uuid4().hex
            send(title)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(self.arrivals.get(title, [])) < len(self.clients):
                time.sleep(0.01)
            # from the event's timestamp (taken in the write's transaction, just before commit)
            samples += [(arrived - stamp_seconds(at)) * 1000 for arrived, at in self.arrivals.get(title, [])]
            time.sleep(0.5)
        return samples

    def close(self):
        for client in self.clients:
            client.eio.disconnect(abort=True)


def stamp_seconds(iso):
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def summary(samples):
    ordered = sorted(samples)
    pick = lambda p: ordered[min(len(ordered) - 1, int(p * len(ordered)))]  # noqa: E731
    return {"n": len(ordered), "p50": statistics.median(ordered), "p95": pick(0.95), "p99": pick(0.99)}


def run(args):
    workdir = Path(tempfile.mkdtemp(prefix="beacon-bench-"))
    url_db = database_url_for("postgresql", workdir, "realtime")
    migrate(url_db)
    token, _ = seed_issues(url_db, 10)
    results = {}
    try:
        for name in ("bare", "beacon"):
            port = free_port()
            if name == "bare":
                process = Process([sys.executable, str(ROOT / "bench/bare_realtime.py")], {"PORT": str(port)},
                                  workdir / "bare.log")
            else:
                env = {"DATABASE_URL": url_db, "BEACON_INSTANCE_PATH": str(workdir), "EMBEDDED_WORKER": "0"}
                process = Process([str(ROOT / ".venv/bin/gunicorn"), "-k", "eventlet", "-w", "1",
                                   "--worker-connections", "5000", "-b", f"127.0.0.1:{port}", "wsgi:app"],
                                  env, workdir / "beacon.log")
            base = f"http://127.0.0.1:{port}"
            wait_up(base + ("/emit" if name == "bare" else "/healthz"), process)
            worker_pid = _serving_pid(process)
            before = rss_kb(worker_pid)
            idle = Crowd(base, token, args.idle, None)
            time.sleep(2)
            per_connection = (rss_kb(worker_pid) - before) / args.idle
            idle.close()
            time.sleep(2)
            crowd = Crowd(base, token, args.clients, "project:WEB")
            headers = {"Authorization": f"Bearer {token}"}

            def send(title, base=base, name=name):
                target = "/emit" if name == "bare" else "/api/v1/projects/WEB/issues"
                requests.post(base + target, json={"title": title}, headers=headers, timeout=30).raise_for_status()

            samples = crowd.latencies(send, args.writes)
            crowd.close()
            process.kill()
            results[name] = {**summary(samples), "kb_per_connection": per_connection}
    finally:
        drop_database("postgresql", url_db)
    bare, beacon = results["bare"], results["beacon"]
    print(f"{args.clients} clients in one room, {args.writes} writes; {args.idle} idle connections")
    for name, r in results.items():
        print(f"  {name:<7} delivered {r['n']:6}  p50 {r['p50']:7.1f} ms  p95 {r['p95']:7.1f} ms  "
              f"p99 {r['p99']:7.1f} ms  {r['kb_per_connection']:6.1f} KB per idle connection")
    print(f"  ratio   p95 {beacon['p95'] / bare['p95']:.2f}x   memory per connection "
          f"{beacon['kb_per_connection'] / bare['kb_per_connection']:.2f}x")


def _serving_pid(process):
    """gunicorn serves from a child process; the bare server serves itself."""
    children = Path(f"/proc/{process.popen.pid}/task/{process.popen.pid}/children")
    pids = children.read_text().split() if children.exists() else []
    return int(pids[0]) if pids else process.popen.pid


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--writes", type=int, default=5)
    parser.add_argument("--idle", type=int, default=2000)
    run(parser.parse_args())
