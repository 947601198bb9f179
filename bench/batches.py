"""Benchmark batches end to end against raw SQLAlchemy Core executemany in the same database.

    .venv/bin/python bench/batches.py [--engines sqlite,postgresql] [--operations 10000]
                                      [--async-mode eventlet] [--redis-db 11]

For each engine: a fresh migrated database, a real server process (``python app.py``) and
a real ``flask worker`` process on real Redis. A python-socketio client signed in as the
submitter times each batch from the POST to its ``batch.finished``. Batches: N issue
creates, atomic then best effort. Baseline, in the same database in the same run: one
transaction that inserts the same N issue rows and N event rows with Core ``executemany``
(``connection.execute(insert(table), rows)``) and commits. Prints ops/s and the ratios.
"""
import argparse
import json
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import redis
import requests
import socketio
from sqlalchemy import create_engine, insert

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import database_url_for, drop_database, migrate  # noqa: E402
from tests.support.live import Process, Server  # noqa: E402


def seed(url):
    """A user with a token and two projects (WEB for batches, RAW for the baseline)."""
    from app import create_app
    from app.auth.tokens import issue_token
    from app.extensions import db
    from app.projects.service import create_project
    from app.users.service import create_user

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "EMBEDDED_WORKER": False})
    with app.app_context():
        user = create_user(f"bench-{uuid.uuid4().hex[:6]}@bench.test", "Bench", "bench-password")
        create_project(user, "WEB", "Batches")
        raw = create_project(user, "RAW", "Baseline")
        token, _ = issue_token(user)
        db.session.commit()
        ids = (user.id, raw.id)
        db.engine.dispose()
    return token, ids


def baseline(url, user_id, project_id, count):
    """Raw Core executemany: the issue rows and the event rows a batch writes, one transaction."""
    from app.models import Event, Issue
    from app.models.base import isoformat, utcnow

    engine = create_engine(url.replace("postgresql+psycopg2", "postgresql+psycopg"))
    issues, events = Issue.__table__, Event.__table__
    first = 1  # RAW's numbers: the project holds nothing else
    now = utcnow()
    rows = [{"project_id": project_id, "number": first + i, "title": f"Baseline issue {i}", "description": "",
             "status": "open", "priority": "medium", "assignee_id": None, "reporter_id": user_id,
             "created_at": now, "updated_at": now, "resolved_at": None, "version": 1} for i in range(count)]
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(insert(issues), rows)
        connection.execute(insert(events), [
            {"project_id": project_id, "seq": 1_000_000 + first + i, "type": "issue.created", "actor_id": user_id,
             "at": now, "data": {"issue": {**row, "id": first + i, "key": f"RAW-{row['number']}", "labels": [],
                                           "created_at": isoformat(now), "updated_at": isoformat(now),
                                           "resolved_at": None}}}
            for i, row in enumerate(rows)])
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def run_batch(server, token, count, mode):
    """POST a batch of ``count`` creates; return (seconds to batch.finished, the record)."""
    finished = threading.Event()
    record = {}
    client = socketio.Client(reconnection=False)

    @client.on("batch.finished", namespace="/realtime")
    def on_finished(data):
        record.update(data)
        finished.set()

    client.connect(server.url, auth={"token": token}, namespaces=["/realtime"], transports=["websocket"])
    # The request is ready before the clock starts, as the baseline's rows are.
    body = json.dumps({"mode": mode, "operations": [
        {"op": "create", "resource": "issue", "data": {"project": "WEB", "title": f"Batch issue {i}"}}
        for i in range(count)]})
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    started = time.perf_counter()
    response = requests.post(f"{server.url}/api/v1/batches", data=body, headers=headers, timeout=120)
    posted = time.perf_counter() - started
    assert response.status_code == 202, response.text
    assert finished.wait(300), "no batch.finished"
    elapsed = time.perf_counter() - started
    client.disconnect()
    assert record["status"] == "succeeded" and record["succeeded"] == count, record
    return elapsed, posted, record


def bench_engine(engine, args, workdir, redis_url):
    url = database_url_for(engine, workdir, "batches")
    processes = []
    redis.Redis.from_url(redis_url).flushdb()  # a fresh database numbers its batches from 1 again
    try:
        migrate(url)
        token, (user_id, raw_project) = seed(url)
        env = {"DATABASE_URL": url, "REDIS_URL": redis_url, "SOCKETIO_MESSAGE_QUEUE": redis_url,
               "BEACON_INSTANCE_PATH": str(workdir), "SOCKETIO_ASYNC_MODE": args.async_mode}
        processes.append(Server(env, workdir / f"server-{engine}.log"))
        worker_env = {k: v for k, v in env.items() if k != "SOCKETIO_ASYNC_MODE"}
        processes.append(Process([sys.executable, "-m", "flask", "--app", "app", "worker"], worker_env,
                                 workdir / f"worker-{engine}.log"))
        time.sleep(2)  # the worker's start-up
        run_batch(processes[0], token, 100, "best_effort")  # warm both processes up
        base = baseline(url, user_id, raw_project, args.operations)
        rows = []
        for mode in ("atomic", "best_effort"):
            elapsed, posted, record = run_batch(processes[0], token, args.operations, mode)
            waited = (_parse(record["started_at"]) - _parse(record["created_at"])).total_seconds()
            rows.append((mode, elapsed, posted, waited, record["duration_ms"] / 1000))
        return base, rows
    finally:
        for process in processes:
            process.kill()
        drop_database(engine, url)


def _parse(stamp):
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--operations", type=int, default=10_000)
    parser.add_argument("--async-mode", default="eventlet", choices=("eventlet", "threading"))
    parser.add_argument("--redis-db", type=int, default=11)
    args = parser.parse_args()
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    workdir = Path(tempfile.mkdtemp(prefix="beacon-bench-batches-"))
    n = args.operations
    print(f"{n:,} issue creates per batch; server: {args.async_mode}; worker: flask worker (psycopg 3)")
    print(f"{'engine':<11} {'run':<34} {'seconds':>8} {'ops/s':>9} {'vs Core':>8}")
    for engine in args.engines.split(","):
        base, rows = bench_engine(engine, args, workdir, redis_url)
        print(f"{engine:<11} {'Core executemany (issues+events)':<34} {base:8.2f} {n / base:9,.0f} {'1.00':>8}")
        for mode, elapsed, posted, waited, applied in rows:
            print(f"{engine:<11} {mode + ' end to end':<34} {elapsed:8.2f} {n / elapsed:9,.0f} "
                  f"{base / elapsed:8.2f}")
            print(f"{engine:<11} {'  of which POST (202)':<34} {posted:8.2f}")
            print(f"{engine:<11} {'  queued until the worker started':<34} {waited:8.2f}")
            print(f"{engine:<11} {'  worker run (duration_ms)':<34} {applied:8.2f} {n / applied:9,.0f} "
                  f"{base / applied:8.2f}")
            print(f"{engine:<11} {'  commit, broadcast, batch.finished':<34} "
                  f"{elapsed - max(posted, waited) - applied:8.2f}")


if __name__ == "__main__":
    main()
