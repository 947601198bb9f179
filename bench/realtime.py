"""Benchmark real-time fan-out and idle connection memory against a bare python-socketio server.

    .venv/bin/python bench/realtime.py [--clients 1000] [--writes 10] [--idle 2000] [--swarms 4]

Beacon runs as one `gunicorn -k eventlet -w 1` process (embedded presence, no message
queue, like the baseline); the baseline is bench/bare_realtime.py under eventlet, doing
the same fan-out: clients join a room, a POST sends an event to it. Clients run as green
threads in a few swarm processes (bench/realtime_swarm.py) on the same machine.
Latency runs from the event's timestamp (Beacon: taken in the write's transaction, just
before its commit; baseline: as it emits) to its arrival at each client. Memory is the
growth of the serving process's RSS per idle connection.
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import requests

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
    for _ in range(300):
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(process.output())


class Swarms:
    """``count`` clients spread over ``swarms`` processes of green-thread clients."""

    def __init__(self, url, token, count, swarms, room=None):
        sizes = [count // swarms + (1 if i < count % swarms else 0) for i in range(swarms)]
        args = [sys.executable, "-W", "ignore", str(ROOT / "bench/realtime_swarm.py"), url, token]
        self.processes = [subprocess.Popen(args + [str(size)] + ([room] if room else []), stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, text=True, cwd=ROOT) for size in sizes]
        for process in self.processes:
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError("a swarm failed to connect")

    def arrivals(self):
        found = []
        for process in self.processes:
            process.stdin.write("report\n")
            process.stdin.flush()
            found += json.loads(process.stdout.readline())
        return found

    def close(self):
        for process in self.processes:
            process.stdin.write("quit\n")
            process.stdin.flush()
        for process in self.processes:
            process.wait(60)


def stamp_seconds(iso):
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def summary(samples, expected):
    ordered = sorted(samples)
    pick = lambda p: ordered[min(len(ordered) - 1, int(p * len(ordered)))]  # noqa: E731
    return {"n": len(ordered), "expected": expected, "p50": statistics.median(ordered), "p95": pick(0.95),
            "p99": pick(0.99)}


def measure(name, base, token, args, pid):
    before = rss_kb(pid)
    idle = Swarms(base, token, args.idle, args.swarms)
    time.sleep(3)
    per_connection = (rss_kb(pid) - before) / args.idle
    idle.close()
    time.sleep(3)
    crowd = Swarms(base, token, args.clients, args.swarms, room="project:WEB")
    time.sleep(12)  # joins settle: presence diffs sent, catch-up watermarks forgotten
    headers = {"Authorization": f"Bearer {token}"}
    target = "/emit" if name == "bare" else "/api/v1/projects/WEB/issues"
    titles = []
    for _ in range(args.writes):
        titles.append(uuid.uuid4().hex)
        requests.post(base + target, json={"title": titles[-1]}, headers=headers, timeout=30).raise_for_status()
        time.sleep(1.5)
    time.sleep(2)
    arrivals = crowd.arrivals()
    crowd.close()
    samples = [(arrived - stamp_seconds(at)) * 1000 for title, arrived, at in arrivals if title in titles]
    return {**summary(samples, args.clients * args.writes), "kb_per_connection": per_connection}


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
                                   "--worker-connections", "5000", "--backlog", "2048", "-b", f"127.0.0.1:{port}",
                                   "wsgi:app"], env, workdir / "beacon.log")
            base = f"http://127.0.0.1:{port}"
            wait_up(base + ("/emit" if name == "bare" else "/healthz"), process)
            try:
                results[name] = measure(name, base, token, args, _serving_pid(process))
            finally:
                process.kill()
    finally:
        drop_database("postgresql", url_db)
    bare, beacon = results["bare"], results["beacon"]
    print(f"{args.clients} clients in one room, {args.writes} writes; {args.idle} idle connections; "
          f"clients in {args.swarms} eventlet processes")
    for name, r in results.items():
        print(f"  {name:<7} delivered {r['n']:6}/{r['expected']}  p50 {r['p50']:7.1f} ms  p95 {r['p95']:7.1f} ms  "
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
    parser.add_argument("--writes", type=int, default=10)
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--swarms", type=int, default=4)
    run(parser.parse_args())
