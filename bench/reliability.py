"""Reliability under a mixed load in the production shape, with a worker and a server killed.

    .venv/bin/python bench/reliability.py [--seconds 600] [--rest 40] [--sockets 200] [--swarms 4]
                                          [--batch-size 20] [--backup-every 60] [--redis-db 15]

Two `gunicorn -k eventlet -w 1` processes on wsgi.py (clients split between them, as a
sticky balancer would), PostgreSQL, Redis (`REDIS_URL` and the Socket.IO message queue), one
`flask worker`. For ``--seconds``: the REST mix of bench/load.py, ``--sockets`` Socket.IO
clients (one user each) in `project:WEB` that re-join with `after_seq` whenever they are
dropped (bench/rejoin_swarm.py --rejoin), a client submitting batches (atomic and best
effort in turn, each with an `Idempotency-Key`, re-sent to the other server when a
submission fails) and an admin asking for a backup every ``--backup-every`` seconds. At a
third of the run the worker is SIGKILLed and started again; at two thirds the serving
process of server B is SIGKILLed (its gunicorn master starts a new one).

Prints requests/s and p95 (baseline: the same REST clients against a bare Flask page under
the same gunicorn command, 10 s, in the same run), 5xx answers (target 0) apart from
connections the killed process dropped, events each socket never received (target 0),
batch operations applied twice, never, or despite being reported failed (checked in the
database; target 0), backups made, each process's RSS growth (target < 10%), and the
distinct errors in the servers' and the worker's logs.
"""
import argparse
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import redis
import requests
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import database_url_for, drop_database, migrate, seed_issues  # noqa: E402
from bench.load import RestClient, Swarm, drive, figures, gunicorn, last_seq, seed_users  # noqa: E402
from bench.realtime import _serving_pid, rss_kb, wait_up  # noqa: E402
from tests.support.live import Process  # noqa: E402


def seed_admin(url):
    """An admin with a token (backups are admins' work)."""
    from app import create_app
    from app.auth.tokens import issue_token
    from app.extensions import db
    from app.users.service import create_user

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "EMBEDDED_WORKER": False})
    with app.app_context():
        token, _ = issue_token(create_user(f"admin-{uuid.uuid4().hex[:6]}@bench.test", "Admin", "admin-password",
                                           is_admin=True))
        db.session.commit()
        db.engine.dispose()
    return token


class BatchClient(threading.Thread):
    """Submits a batch every second until ``stop``: ``size`` issue creates (unique titles)
    and a comment on the first, atomic and best effort in turn; best effort ones also hold
    a delete of a missing issue, which must fail alone."""

    def __init__(self, bases, token, size, stop):
        super().__init__(daemon=True)
        self.bases, self.size, self.stop = bases, size, stop
        self.headers = {"Authorization": f"Bearer {token}"}
        self.batches = []  # (batch id, base, [marker of each operation or None])
        self.resent = Counter()  # why a submission was sent again: its status, or "connection"
        self.failures = Counter()  # the errors of operations that should have succeeded

    def run(self):
        number = 0
        while not self.stop.is_set():
            tag = f"rb-{uuid.uuid4().hex[:10]}"
            mode = "atomic" if number % 2 else "best_effort"
            operations = [{"op": "create", "resource": "issue", "lid": f"i{n}",
                           "data": {"project": "WEB", "title": f"{tag}-{n}"}} for n in range(self.size)]
            operations.append({"op": "create", "resource": "comment", "data": {"issue_lid": "i0", "body": f"{tag}-c"}})
            markers = [f"{tag}-{n}" for n in range(self.size)] + [f"{tag}-c"]
            if mode == "best_effort":
                operations.append({"op": "delete", "resource": "issue", "id": 2**31 - 1})
                markers.append(None)
            self.submit(number, {"mode": mode, "operations": operations}, tag, markers)
            number += 1
            self.stop.wait(1)

    def submit(self, number, body, key, markers):
        for attempt in range(10):
            base = self.bases[(number + attempt) % len(self.bases)]
            try:
                response = requests.post(base + "/api/v1/batches", json=body, timeout=60,
                                         headers={**self.headers, "Idempotency-Key": key})
                if response.status_code in (200, 202):
                    self.batches.append((response.json()["id"], base, markers))
                    return
                self.resent[response.status_code] += 1
            except requests.RequestException:
                self.resent["connection"] += 1
            time.sleep(1)

    def outcomes(self, base, wait):
        """Wait up to ``wait`` s for every batch to end; return {marker: reported status} and
        the batches still unfinished."""
        deadline, unfinished = time.monotonic() + wait, [b for b, _base, _m in self.batches]
        while unfinished and time.monotonic() < deadline:
            unfinished = [b for b in unfinished if requests.get(f"{base}/api/v1/batches/{b}", headers=self.headers,
                          timeout=60).json()["status"] in ("queued", "running")]
            time.sleep(2) if unfinished else None
        reported = {}
        for batch_id, _base, markers in self.batches:
            if batch_id in unfinished:
                continue
            cursor = ""
            while cursor is not None:
                page = requests.get(f"{base}/api/v1/batches/{batch_id}/results?limit=200&cursor={cursor}",
                                    headers=self.headers, timeout=60).json()
                for item in page["items"]:
                    marker = markers[item["index"]]
                    if marker:
                        reported[marker] = item["status"]
                        if item["status"] == "failed":
                            self.failures[item.get("error", "")[:120]] += 1
                    elif item["status"] != "failed":  # the delete of a missing issue
                        self.failures[f"a delete of a missing issue {item['status']}"] += 1
                cursor = page["next_cursor"]
        return reported, unfinished


def applied_counts(url):
    """How many rows each batch marker (an issue title, a comment body) has in the database."""
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT title, count(*) FROM issues WHERE title LIKE 'rb-%' GROUP BY title "
                                       "UNION ALL SELECT body, count(*) FROM comments WHERE body LIKE 'rb-%' "
                                       "GROUP BY body")).all()
    engine.dispose()
    return dict(rows)


def check_batches(reported, counts):
    """Compare what each operation reported with what the database holds."""
    twice = sum(1 for marker, count in counts.items() if count > 1)
    never = sum(1 for marker, status in reported.items() if status == "succeeded" and not counts.get(marker))
    despite = sum(1 for marker, status in reported.items() if status != "succeeded" and counts.get(marker))
    return {"operations": len(reported), "succeeded": sum(s == "succeeded" for s in reported.values()),
            "applied twice": twice, "never applied": never, "applied though reported failed": despite}


class BackupClient(threading.Thread):
    """An admin asking for a backup every ``every`` seconds until ``stop``."""

    def __init__(self, base, token, every, stop):
        super().__init__(daemon=True)
        self.base, self.every, self.stop = base, every, stop
        self.headers = {"Authorization": f"Bearer {token}"}
        self.answers = Counter()

    def run(self):
        while not self.stop.wait(self.every):
            try:
                status = requests.post(self.base + "/api/v1/admin/backups", json={"note": "reliability"},
                                       headers=self.headers, timeout=60).status_code
            except requests.RequestException:
                status = "connection"
            self.answers[status] += 1

    def outcomes(self, wait):
        deadline = time.monotonic() + wait
        while True:
            items = requests.get(self.base + "/api/v1/admin/backups?limit=200", headers=self.headers,
                                 timeout=60).json()["items"]
            statuses = Counter(item["status"] for item in items)
            if not (statuses["queued"] + statuses["running"]) or time.monotonic() > deadline:
                return dict(statuses)
            time.sleep(2)


class Rss:
    """Each process's RSS after warm-up (or after its restart) and at the end."""

    def __init__(self):
        self.first = {}

    def start(self, name, pid):
        self.first[name] = (pid, rss_kb(pid))

    def lines(self):
        for name, (pid, first) in self.first.items():
            if not Path(f"/proc/{pid}").exists():
                yield f"    {name:<28} {first / 1024:6.0f} MB -> killed"
                continue
            last = rss_kb(pid)
            yield f"    {name:<28} {first / 1024:6.0f} MB -> {last / 1024:6.0f} MB  {(last - first) / first:+6.1%}"


def log_errors(paths):
    """Distinct errors in the processes' logs, counted: a JSON record at level error or above
    by its message and the last line of its traceback, a plain traceback by its last line."""
    found = Counter()
    for path in paths:
        for line in Path(path).read_text(errors="replace").splitlines():
            start = line.find('{"time"')
            if start >= 0:
                try:
                    record = json.loads(line[start:])
                except ValueError:
                    continue
                if record.get("level") in ("error", "critical"):
                    last = [line for line in record.get("exception", "").strip().splitlines()
                            if line and not line.startswith("(Background")][-1:] or [""]
                    found[re.sub(r"\d+", "N", f"{path.stem}: {record['message']} {last[0]}")[:160]] += 1
            elif re.match(r"^\w+(\.\w+)*(Error|Exception)\b", line):
                found[re.sub(r"\d+", "N", f"{path.stem}: {line}")[:160]] += 1
    return found


def restart_serving_process(server):
    """SIGKILL the process serving under ``server``'s gunicorn master; wait for its successor."""
    old = _serving_pid(server)
    killed = time.monotonic()
    os.kill(old, signal.SIGKILL)
    while _serving_pid(server) in (old, server.popen.pid):
        time.sleep(0.05)
    return _serving_pid(server), killed


def run(args):
    workdir = Path(tempfile.mkdtemp(prefix="beacon-reliability-"))
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    url = database_url_for("postgresql", workdir, "reliability")
    redis.Redis.from_url(redis_url).flushdb()
    processes = []
    try:
        migrate(url)
        _token, first_id = seed_issues(url, 500)
        issue_ids = list(range(first_id, first_id + 500))
        tokens = seed_users(url, args.rest + args.sockets + 1)
        rest_tokens, socket_tokens, batch_token = tokens[:args.rest], tokens[args.rest:-1], tokens[-1]
        admin_token = seed_admin(url)

        bare, bare_url = gunicorn("bench.bare_app:app", {}, workdir / "bare.log")
        try:
            base_samples, _ = drive(bare_url, rest_tokens, 10, [], paths=["/page", "/one"])
        finally:
            bare.kill()
        baseline = figures(base_samples, 10)

        env = {"DATABASE_URL": url, "REDIS_URL": redis_url, "SOCKETIO_MESSAGE_QUEUE": redis_url,
               "BEACON_INSTANCE_PATH": str(workdir), "BACKUP_DIR": str(workdir / "backups"), "BACKUP_SCHEDULE": "off",
               "RATE_LIMIT_API": "100000/minute", "LOG_LEVEL": "WARNING", "SOCKETIO_ASYNC_MODE": "eventlet"}
        servers = []
        for name in ("a", "b"):  # one after the other: the first creates the instance's secret
            server, base = gunicorn("wsgi:app", env, workdir / f"server-{name}.log")
            processes.append(server)
            servers.append((server, base))
        (server_a, base_a), (server_b, base_b) = servers
        worker_env = {**{k: v for k, v in env.items() if k != "SOCKETIO_ASYNC_MODE"}, "FLASK_APP": "app"}
        worker = Process([str(ROOT / ".venv/bin/flask"), "worker"], worker_env, workdir / "worker-1.log")
        processes.append(worker)

        per_swarm = args.sockets // args.swarms
        swarms = [Swarm((base_a, base_b)[n % 2], ",".join(socket_tokens[n * per_swarm:(n + 1) * per_swarm]),
                        per_swarm, "project:WEB", script="bench/rejoin_swarm.py", options=["--rejoin"])
              for n in range(args.swarms)]
        drive(base_a, rest_tokens, 5, issue_ids)  # warm-up: pools, caches, code paths
        rss = Rss()
        rss.start("server A", _serving_pid(server_a))
        rss.start("server B", _serving_pid(server_b))
        rss.start("worker", worker.popen.pid)

        stop = threading.Event()
        clients = [RestClient((base_a, base_b)[n % 2], token, issue_ids, stop, n) for n, token in enumerate(rest_tokens)]
        batcher = BatchClient([base_a, base_b], batch_token, args.batch_size, stop)
        backups = BackupClient(base_a, admin_token, args.backup_every, stop)
        started = time.monotonic()
        for thread in clients + [batcher, backups]:
            thread.start()

        time.sleep(args.seconds / 3)
        worker.popen.send_signal(signal.SIGKILL)
        worker.popen.wait(10)
        worker = Process([str(ROOT / ".venv/bin/flask"), "worker"], worker_env, workdir / "worker-2.log")
        processes.append(worker)
        worker_killed = time.monotonic() - started
        time.sleep(5)
        rss.start("worker (restarted)", worker.popen.pid)

        time.sleep(max(0.0, started + args.seconds * 2 / 3 - time.monotonic()))
        new_pid, killed = restart_serving_process(server_b)
        wait_up(base_b + "/healthz", server_b)
        server_killed, server_down = killed - started, time.monotonic() - killed
        time.sleep(10)
        rss.start("server B (restarted)", new_pid)

        time.sleep(max(0.0, started + args.seconds - time.monotonic()))
        stop.set()
        for thread in clients + [batcher, backups]:
            thread.join(120)
        elapsed = time.monotonic() - started
        rss_lines = list(rss.lines())

        reported, unfinished = batcher.outcomes(base_a, 180)
        batch_check = check_batches(reported, applied_counts(url))
        backup_statuses = backups.outcomes(180)
        final_seq = last_seq(url)
        for _ in range(60):  # re-joins replay what their sockets missed
            listeners = [entry for swarm in swarms for entry in swarm.report()]
            lost = sum(final_seq - joined - got for joined, got, *_ in listeners)
            if not lost:
                break
            time.sleep(2)
        for swarm in swarms:
            swarm.close()
        errors_in_logs = log_errors(sorted(workdir.glob("*.log")))
    finally:
        for process in reversed(processes):
            process.kill()
        drop_database("postgresql", url)
        redis.Redis.from_url(redis_url).flushdb()

    samples = [s for c in clients for s in c.samples]
    errors = sum((c.errors for c in clients), Counter())
    result = figures(samples, elapsed)
    five = {k: v for k, v in errors.items() if k.rsplit(": ", 1)[1].startswith("5")}
    dropped = {k: v for k, v in errors.items() if k.endswith(": connection")}
    other = {k: v for k, v in errors.items() if k not in five and k not in dropped}
    rejoined = [entry for entry in listeners if entry[3]]
    print(f"{args.rest} REST clients, {len(listeners)} Socket.IO clients, batches of {args.batch_size + 1}-"
          f"{args.batch_size + 2} operations every second, a backup every {args.backup_every} s; {elapsed:.0f} s; "
          f"2 x gunicorn -k eventlet -w 1, 1 flask worker, PostgreSQL, Redis")
    print(f"  kills    worker SIGKILLed at {worker_killed:.0f} s and started again; server B's serving process "
          f"SIGKILLed at {server_killed:.0f} s, serving again {server_down:.1f} s later")
    print(f"  beacon   {result['rps']:7.1f} req/s  p50 {result['p50']:6.1f} ms  p95 {result['p95']:6.1f} ms  "
          f"p99 {result['p99']:6.1f} ms  ({result['n']} requests)")
    print(f"  bare     {baseline['rps']:7.1f} req/s  p95 {baseline['p95']:6.1f} ms  (same clients, bare Flask page)")
    print(f"  ratio    {result['rps'] / baseline['rps']:.1%} of the bare rate; p95 {result['p95'] / baseline['p95']:.1f}x")
    print(f"  5xx      {sum(five.values())} {five or ''} (target 0)")
    print(f"  dropped  {sum(dropped.values())} requests lost with the killed process's connections {dropped or ''}")
    print(f"  other    {sum(other.values())} unexpected statuses {other or ''}")
    print(f"  sockets  {len(listeners)} clients, {len(rejoined)} re-joined ({sum(e[3] for e in listeners)} re-joins); "
          f"{sum(sum(e[4].values()) for e in listeners)} re-joins refused; events never received: {lost} of "
          f"{sum(final_seq - e[0] for e in listeners)}, by {sum(1 for e in listeners if final_seq - e[0] - e[1])} "
          f"sockets, 120 s after the load stopped (target 0)")
    refusals = sum((Counter(e[4]) for e in listeners), Counter())
    print(f"           re-joins refused because: {dict(refusals.most_common(5)) or 0}")
    print(f"  batches  {len(batcher.batches)} submitted (re-sent: {dict(batcher.resent) or 0}), {len(unfinished)} "
          f"unfinished; {batch_check} (target 0 each)")
    print(f"           operations failed: {dict(batcher.failures) or 0} (target 0)")
    print(f"  backups  {sum(backups.answers.values())} asked {dict(backups.answers)}; records {backup_statuses}")
    print("  RSS      (target < 10% each)")
    print("\n".join(rss_lines))
    print(f"  logs     {sum(errors_in_logs.values())} error lines")
    for line, count in errors_in_logs.most_common(15):
        print(f"    {count:5} x {line}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--rest", type=int, default=40)
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--swarms", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--backup-every", type=int, default=60)
    parser.add_argument("--redis-db", type=int, default=15)
    run(parser.parse_args())
