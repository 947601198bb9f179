"""Load: REST clients doing a realistic mix and Socket.IO clients in rooms, for a while.

    .venv/bin/python bench/load.py [--rest 50] [--sockets 200] [--seconds 300] [--swarms 4]
                                   [--mix realistic|writes] [--processes 1] [--quiet-first]

Beacon runs as one `gunicorn -k eventlet -w 1` process on PostgreSQL with Redis
(`REDIS_URL` and the Socket.IO message queue, the production shape). Each REST client is a
thread with its own user and token, looping over a mix: list issues 35%, get an issue 20%,
search 10%, list events 5%, list comments 5%, create an issue 10%, update an issue 10%,
comment 5%. Socket clients (green threads in `--swarms` processes, bench/load_swarm.py,
each process a different user) join `project:WEB` and should receive every event of the
project committed after they joined: the script counts what each one got, live or, after
an ``events.gap``, through the re-join's catch-up (counted apart), and the sockets the
server closed. ``--mix writes``: only creates, updates and comments. ``--processes N``:
N such processes on one Redis, sockets and REST clients split between them. ``--quiet-first``:
the same REST clients first run as long with no socket listening, for the comparison.

Prints requests/s, errors (any status other than the one the call expects; the target is
0), p50/p95/p99, the serving process's RSS after a warm-up and at the end (target: growth
under 10%), and, as the baseline measured in the same run, the same REST clients against a
bare Flask page under the same gunicorn command for 10 s.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import database_url_for, drop_database, migrate, seed_issues  # noqa: E402
from bench.realtime import _serving_pid, rss_kb, wait_up  # noqa: E402
from tests.support.live import Process, free_port  # noqa: E402

REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/13")
MIXES = {
    "realistic": [("list issues", 35), ("get issue", 20), ("search", 10), ("events", 5), ("comments", 5),
                  ("create issue", 10), ("update issue", 10), ("comment", 5)],
    "writes": [("create issue", 40), ("update issue", 40), ("comment", 20)],
}
MIX = MIXES["realistic"]


def seed_users(url, count):
    """``count`` members of WEB, each with a token; return the tokens."""
    from app import create_app
    from app.auth.tokens import issue_token
    from app.extensions import db
    from app.models import Membership, Project, User

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "EMBEDDED_WORKER": False})
    tokens = []
    with app.app_context():
        project = db.session.scalar(db.select(Project).where(Project.key == "WEB"))
        for n in range(count):
            user = User(email=f"load{n}-{uuid.uuid4().hex[:4]}@bench.test", name=f"Load {n}", password_hash="x")
            db.session.add(user)
            db.session.flush()
            db.session.add(Membership(project_id=project.id, user_id=user.id, role="member"))
            tokens.append(issue_token(user)[0])
        db.session.commit()
        db.engine.dispose()
    return tokens


class Swarm:
    """``count`` Socket.IO clients of one user in one process (bench/load_swarm.py)."""

    def __init__(self, base, token, count, room, script="bench/load_swarm.py", options=()):
        args = [sys.executable, "-W", "ignore", str(ROOT / script), base, token, str(count), room, *options]
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("a swarm failed to connect")

    def report(self):
        self.process.stdin.write("report\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self):
        self.process.stdin.write("quit\n")
        self.process.stdin.flush()
        self.process.wait(60)


def last_seq(url):
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        seq = connection.execute(text("SELECT last_event_seq FROM projects WHERE key = 'WEB'")).scalar()
    engine.dispose()
    return seq


class RestClient(threading.Thread):
    """One user looping over the mix until ``stop`` is set."""

    def __init__(self, base, token, issue_ids, stop, seed, mix=MIX):
        super().__init__(daemon=True)
        self.mix = mix
        self.base, self.stop, self.rng = base, stop, random.Random(seed)
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.issue_ids = issue_ids
        self.samples = []  # (name, ms)
        self.errors = Counter()

    def call(self, name, method, path, expect, **kwargs):
        started = time.perf_counter()
        try:
            response = self.session.request(method, self.base + path, timeout=60, **kwargs)
            ok = response.status_code == expect
            body = response.json() if ok and response.content else None
        except requests.RequestException:
            ok, body, response = False, None, None
        self.samples.append((name, (time.perf_counter() - started) * 1000))
        if not ok:
            self.errors[f"{name}: {response.status_code if response is not None else 'connection'}"] += 1
        return body

    def run(self):
        names, weights = zip(*self.mix)
        while not self.stop.is_set():
            name = self.rng.choices(names, weights)[0]
            issue = self.rng.choice(self.issue_ids)
            if name == "list issues":
                sort = self.rng.choice(["-created_at", "-updated_at", "-priority"])
                self.call(name, "GET", f"/api/v1/projects/WEB/issues?limit=20&sort={sort}", 200)
            elif name == "get issue":
                self.call(name, "GET", f"/api/v1/issues/{issue}", 200)
            elif name == "search":
                self.call(name, "GET", f"/api/v1/search?q={self.rng.choice(['page', 'button', 'look'])}&limit=10", 200)
            elif name == "events":
                self.call(name, "GET", "/api/v1/projects/WEB/events?limit=20", 200)
            elif name == "comments":
                self.call(name, "GET", f"/api/v1/issues/{issue}/comments", 200)
            elif name == "create issue":
                made = self.call(name, "POST", "/api/v1/projects/WEB/issues", 201,
                                 json={"title": f"Load {uuid.uuid4().hex[:8]}", "labels": ["load"]})
                if made:
                    self.issue_ids.append(made["id"])
            elif name == "update issue":
                self.call(name, "PATCH", f"/api/v1/issues/{issue}", 200,
                          json={"priority": self.rng.choice(["low", "medium", "high", "critical"]),
                                "status": self.rng.choice(["open", "in_progress"])})
            else:
                self.call(name, "POST", f"/api/v1/issues/{issue}/comments", 201, json={"body": "Seen under load."})


def drive(bases, tokens, seconds, issue_ids, paths=None, mix=MIX):
    """Run the REST clients for ``seconds`` (client n on ``bases[n % len(bases)]``); return
    their samples and errors."""
    stop = threading.Event()
    if paths:  # the baseline: plain GETs of the bare page
        clients = [BareClient(bases[0], paths, stop) for _ in tokens]
    else:
        clients = [RestClient(bases[n % len(bases)], token, issue_ids, stop, n, mix) for n, token in enumerate(tokens)]
    for client in clients:
        client.start()
    time.sleep(seconds)
    stop.set()
    for client in clients:
        client.join(120)
    samples = [s for c in clients for s in c.samples]
    errors = sum((c.errors for c in clients), Counter())
    return samples, errors


class BareClient(RestClient):
    def __init__(self, base, paths, stop):
        super().__init__(base, "none", [], stop, 0)
        self.paths = paths

    def run(self):
        while not self.stop.is_set():
            self.call("bare page", "GET", self.rng.choice(self.paths), 200)


def figures(samples, seconds):
    ordered = sorted(ms for _name, ms in samples)
    pick = lambda p: ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")  # noqa: E731
    return {"n": len(ordered), "rps": len(ordered) / seconds, "p50": pick(0.5), "p95": pick(0.95), "p99": pick(0.99)}


def gunicorn(target, env, log):
    port = free_port()
    process = Process([str(ROOT / ".venv/bin/gunicorn"), "-k", "eventlet", "-w", "1", "--worker-connections", "5000",
                       "--backlog", "2048", "-b", f"127.0.0.1:{port}", "--log-level", "warning", "--no-control-socket", target], env, log)
    base = f"http://127.0.0.1:{port}"
    wait_up(base + "/healthz", process)
    return process, base


def run(args):
    import redis

    workdir = Path(tempfile.mkdtemp(prefix="beacon-load-"))
    url = database_url_for("postgresql", workdir, "load")
    redis.Redis.from_url(REDIS).flushdb()  # the benchmark's own database number
    try:
        migrate(url)
        _token, first_id = seed_issues(url, 500)
        issue_ids = list(range(first_id, first_id + 500))
        tokens = seed_users(url, args.rest + args.swarms)
        rest_tokens, socket_tokens = tokens[:args.rest], tokens[args.rest:]

        bare, bare_url = gunicorn("bench.bare_app:app", {}, workdir / "bare.log")
        try:
            base_samples, base_errors = drive([bare_url], rest_tokens, 10, [], paths=["/page", "/one"])
        finally:
            bare.kill()
        baseline = figures(base_samples, 10)

        env = {"DATABASE_URL": url, "REDIS_URL": REDIS, "SOCKETIO_MESSAGE_QUEUE": REDIS, "EMBEDDED_WORKER": "0",
               "BEACON_INSTANCE_PATH": str(workdir), "RATE_LIMIT_API": "100000/minute", "LOG_LEVEL": "WARNING",
               "SOCKETIO_ASYNC_MODE": "eventlet", "SOCKETIO_CHANNEL": f"beacon-load-{uuid.uuid4().hex[:8]}",
               # one user per swarm: its sockets and joins are not what is measured here
               "REALTIME_MAX_CONNECTIONS_PER_USER": "100000", "REALTIME_RATE_LIMIT_USER": "100000/second",
               "REALTIME_RATE_LIMIT_SOCKET": "100000/second"}
        servers = [gunicorn("wsgi:app", env, workdir / f"beacon{n}.log") for n in range(args.processes)]
        bases = [base for _server, base in servers]
        pids = [_serving_pid(server) for server, _base in servers]
        mix = MIXES[args.mix]
        quiet = None
        try:
            rss_idle = sum(rss_kb(pid) for pid in pids)
            if args.quiet_first:
                drive(bases, rest_tokens, 5, issue_ids, mix=mix)  # warm-up
                quiet = drive(bases, rest_tokens, args.seconds, issue_ids, mix=mix)
            swarms = [Swarm(bases[n % len(bases)], token, args.sockets // args.swarms, "project:WEB")
                      for n, token in enumerate(socket_tokens)]
            warm, _ = drive(bases, rest_tokens, 5, issue_ids, mix=mix)  # warm-up: pools, caches, code paths
            rss_start = sum(rss_kb(pid) for pid in pids)
            samples, errors = drive(bases, rest_tokens, args.seconds, issue_ids, mix=mix)
            rss_end = sum(rss_kb(pid) for pid in pids)
            time.sleep(5)  # the last events (and catch-ups) reach the clients
            final_seq = last_seq(url)
            listeners = [entry for swarm in swarms for entry in swarm.report()]
            for swarm in swarms:
                swarm.close()
        finally:
            for server, _base in servers:
                server.kill()
    finally:
        drop_database("postgresql", url)
        redis.Redis.from_url(REDIS).flushdb()

    expected = sum(final_seq - joined for joined, *_rest in listeners)
    live = sum(entry[1] for entry in listeners)
    caught_up = sum(entry[2] for entry in listeners)
    gaps = sum(entry[4] for entry in listeners)
    closed = sum(1 for entry in listeners if entry[5])
    result = figures(samples, args.seconds)
    by_name = defaultdict(list)
    for name, ms in samples:
        by_name[name].append((name, ms))
    print(f"{args.rest} REST clients ({args.mix} mix), {args.sockets} Socket.IO clients in project:WEB, "
          f"{args.seconds} s, {args.processes} x gunicorn -k eventlet -w 1 on PostgreSQL + Redis")
    if quiet is not None:
        q = figures(quiet[0], args.seconds)
        print(f"  no sockets {q['rps']:7.1f} req/s  p50 {q['p50']:6.1f} ms  p95 {q['p95']:6.1f} ms  "
              f"p99 {q['p99']:6.1f} ms  errors {sum(quiet[1].values())}")
    print(f"  beacon   {result['rps']:7.1f} req/s  p50 {result['p50']:6.1f} ms  p95 {result['p95']:6.1f} ms  "
          f"p99 {result['p99']:6.1f} ms  errors {sum(errors.values())}  ({result['n']} requests)")
    for name, _weight in mix:
        f = figures(by_name[name], args.seconds)
        print(f"    {name:<13} {f['n']:7}  p50 {f['p50']:6.1f} ms  p95 {f['p95']:6.1f} ms")
    if quiet is not None:
        print(f"  writes   p95 with sockets / without: {result['p95'] / q['p95']:.2f}x (target <= 1.5x)")
    print(f"  bare     {baseline['rps']:7.1f} req/s  p50 {baseline['p50']:6.1f} ms  p95 {baseline['p95']:6.1f} ms  "
          f"errors {sum(base_errors.values())}  (same clients, bare Flask page, 10 s)")
    print(f"  ratio    {result['rps'] / baseline['rps']:.1%} of the bare rate; "
          f"p95 {result['p95'] / baseline['p95']:.1f}x")
    print(f"  errors   {dict(errors) or 0}")
    if expected:
        print(f"  sockets  {len(listeners)} clients received {live + caught_up} of the {expected} events committed "
              f"after they joined ({(live + caught_up) / expected:.2%}): {live} live ({live / expected:.2%}), "
              f"{caught_up} through {gaps} events.gap catch-ups; {closed} sockets closed by the server")
    else:
        print(f"  sockets  {len(listeners)} clients")
    print(f"  RSS      idle {rss_idle / 1024:.0f} MB, after warm-up {rss_start / 1024:.0f} MB, "
          f"end {rss_end / 1024:.0f} MB"
          f"  growth {(rss_end - rss_start) / rss_start:+.1%} (target < 10%)")
    print(f"  warm-up  {len(warm)} requests")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rest", type=int, default=50)
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--swarms", type=int, default=4)
    parser.add_argument("--mix", choices=sorted(MIXES), default="realistic")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--quiet-first", action="store_true")
    run(parser.parse_args())
