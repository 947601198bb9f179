"""Benchmark notifications: their cost on a REST change and on a 10,000-create batch.

    .venv/bin/python bench/notifications.py [--engines sqlite,postgresql] [--requests 300]
                                            [--operations 10000] [--redis-db 12]

For each engine: a fresh migrated database; Ann (the actor) and Bob (a member) in project
WEB. Two real server processes (``python app.py``) on it, one with notifications on and
one with ``NOTIFICATIONS=off`` (the baseline: the same app without the after-commit
fan-out), linked by real Redis.

- REST: ``POST /projects/WEB/issues`` with ``assignee_id`` Bob, sequential, alternating
  between the two servers so both see the same database; median and p95 latency, and the
  ratio on/off (target <= 1.15).
- Batch: a 10,000-create batch assigned to Bob, run by a real ``flask worker`` process
  (notifications on, then a worker with them off), timed from the POST until the
  submitter's socket has ``batch.finished`` and, with notifications on, Bob's socket has
  all 10,000 notifications; the ratio on/off (target <= 1.25).
"""
import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import redis
import requests
import socketio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import database_url_for, drop_database, migrate  # noqa: E402
from tests.support.live import Process, Server  # noqa: E402


def seed(url):
    """Ann (maintainer of WEB) and Bob (member), each with a token."""
    from app import create_app
    from app.auth.tokens import issue_token
    from app.extensions import db
    from app.models import Membership
    from app.projects.service import create_project
    from app.users.service import create_user

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "EMBEDDED_WORKER": False})
    with app.app_context():
        tag = uuid.uuid4().hex[:6]
        ann = create_user(f"ann-{tag}@bench.test", "Ann", "bench-password")
        bob = create_user(f"bob-{tag}@bench.test", "Bob", "bench-password")
        project = create_project(ann, "WEB", "Notifications")
        db.session.add(Membership(project_id=project.id, user_id=bob.id, role="member"))
        ann_token, _ = issue_token(ann)
        bob_token, _ = issue_token(bob)
        db.session.commit()
        seeded = ann_token, bob_token, bob.id
        db.engine.dispose()
    return seeded


class Listener:
    """A python-socketio client that counts what it receives."""

    def __init__(self, url, token):
        self.notifications = 0
        self.finished = threading.Event()
        self.target = None
        self.reached = threading.Event()
        self.client = socketio.Client(reconnection=False)
        self.client.on("notification", lambda data: self._add(1), namespace="/realtime")
        self.client.on("notifications.bulk", lambda data: self._add(len(data["notifications"])),
                       namespace="/realtime")
        self.client.on("batch.finished", lambda data: self.finished.set(), namespace="/realtime")
        self.client.connect(url, auth={"token": token}, namespaces=["/realtime"], transports=["websocket"])

    def _add(self, count):
        self.notifications += count
        if self.target is not None and self.notifications >= self.target:
            self.reached.set()

    def expect(self, count):
        self.notifications, self.target = 0, count
        self.finished.clear()
        self.reached.clear()


def rest_latencies(servers, ann_token, bob_id, count):
    """Alternate create-with-assignee between the servers; seconds per call, per server."""
    headers = {"Authorization": f"Bearer {ann_token}"}
    sessions = [requests.Session() for _ in servers]
    timings = [[] for _ in servers]
    for i in range(count):
        for n, (server, session) in enumerate(zip(servers, sessions)):
            started = time.perf_counter()
            response = session.post(f"{server.url}/api/v1/projects/WEB/issues", headers=headers,
                                    json={"title": f"Issue {i}", "assignee_id": bob_id})
            timings[n].append(time.perf_counter() - started)
            assert response.status_code == 201, response.text
    return timings


def run_batch(server, ann, bob, ann_token, bob_id, count, notified):
    body = json.dumps({"mode": "atomic", "operations": [
        {"op": "create", "resource": "issue", "data": {"project": "WEB", "title": f"Batch issue {i}",
                                                       "assignee_id": bob_id}} for i in range(count)]})
    ann.expect(0)
    bob.expect(count)
    started = time.perf_counter()
    response = requests.post(f"{server.url}/api/v1/batches", data=body, timeout=120,
                             headers={"Authorization": f"Bearer {ann_token}", "Content-Type": "application/json"})
    assert response.status_code == 202, response.text
    assert ann.finished.wait(300), "no batch.finished"
    if notified:
        assert bob.reached.wait(60), f"Bob's socket got {bob.notifications} of {count} notifications"
    return time.perf_counter() - started


def bench_engine(engine, args, workdir, redis_url):
    url = database_url_for(engine, workdir, "notify")
    processes = []
    redis.Redis.from_url(redis_url).flushdb()
    try:
        migrate(url)
        ann_token, bob_token, bob_id = seed(url)
        env = {"DATABASE_URL": url, "REDIS_URL": redis_url, "SOCKETIO_MESSAGE_QUEUE": redis_url,
               "BEACON_INSTANCE_PATH": str(workdir), "RATE_LIMIT_API": "1000000/minute",
               "SOCKETIO_CHANNEL": f"bench-notify-{args.redis_db}"}
        on = Server(env, workdir / f"server-on-{engine}.log")
        off = Server({**env, "NOTIFICATIONS": "off"}, workdir / f"server-off-{engine}.log")
        processes += [on, off]
        rest_latencies([on, off], ann_token, bob_id, 20)  # warm up
        timings = rest_latencies([on, off], ann_token, bob_id, args.requests)
        ann, bob = Listener(on.url, ann_token), Listener(on.url, bob_token)
        batches = {}
        for label, setting in (("on", "on"), ("off", "off")):
            worker = Process([sys.executable, "-m", "flask", "--app", "app", "worker"],
                             {**env, "NOTIFICATIONS": setting}, workdir / f"worker-{label}-{engine}.log")
            processes.append(worker)
            time.sleep(2)  # the worker's start-up
            run_batch(on, ann, bob, ann_token, bob_id, 100, setting == "on")  # warm up
            batches[label] = run_batch(on, ann, bob, ann_token, bob_id, args.operations, setting == "on")
            worker.kill()
        ann.client.disconnect()
        bob.client.disconnect()
        return timings, batches
    finally:
        for process in processes:
            process.kill()
        drop_database(engine, url)


def summary(seconds):
    ordered = sorted(seconds)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--operations", type=int, default=10_000)
    parser.add_argument("--redis-db", type=int, default=12)
    args = parser.parse_args()
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    workdir = Path(tempfile.mkdtemp(prefix="beacon-bench-notify-"))
    print(f"{args.requests} REST creates with an assignee per server; batch: {args.operations:,} creates "
          "assigned to one user, by a flask worker")
    print(f"{'engine':<11} {'measure':<40} {'on':>9} {'off':>9} {'on/off':>7}")
    for engine in args.engines.split(","):
        (timed_on, timed_off), batches = bench_engine(engine, args, workdir, redis_url)
        (median_on, p95_on), (median_off, p95_off) = summary(timed_on), summary(timed_off)
        print(f"{engine:<11} {'REST create+assignee median (ms)':<40} {median_on:9.2f} {median_off:9.2f} "
              f"{median_on / median_off:7.2f}")
        print(f"{engine:<11} {'REST create+assignee p95 (ms)':<40} {p95_on:9.2f} {p95_off:9.2f} {p95_on / p95_off:7.2f}")
        print(f"{engine:<11} {'batch end to end (s)':<40} {batches['on']:9.2f} {batches['off']:9.2f} "
              f"{batches['on'] / batches['off']:7.2f}")


if __name__ == "__main__":
    main()
