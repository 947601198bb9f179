"""Benchmark webhook deliveries against a bare signing loop, and REST writes with webhooks.

    .venv/bin/python bench/webhooks.py [--engines postgresql] [--events 2000] [--redis-db 7]

For each engine: a fresh migrated database, a real server process (``python app.py``),
one real ``flask worker`` on real Redis, and a receiver (an HTTP server in this process,
``tests/support/receiver.py``).

1. Deliveries: a batch creates 2,000 issues in one commit on a project with one webhook;
   the worker delivers the 2,000 ``issue.created`` events. Commit to receipt is measured
   from each event's ``at`` (taken in the committing transaction) to its arrival.
   Baseline, same run, same receiver: one loop in this process that signs the same bodies
   with ``standardwebhooks`` and POSTs them with ``requests``, one after another.
2. Paced: 200 single REST creates one after another: commit to receipt when nothing queues.
3. REST create latency: 300 ``POST /issues`` on a project with 5 webhooks against 300 on
   one with none, interleaved, with the worker delivering meanwhile.
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import redis
import requests
from standardwebhooks.webhooks import Webhook as StandardWebhook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import database_url_for, drop_database, migrate  # noqa: E402
from tests.support.live import Process, Server  # noqa: E402
from tests.support.receiver import Receiver  # noqa: E402


def seed(url, receiver_url):
    """A user with a token; WEB with one webhook, HOOKS with five, PLAIN with none."""
    from app import create_app
    from app.auth.tokens import issue_token
    from app.extensions import db
    from app.projects.service import create_project
    from app.users.service import create_user
    from app.webhooks.service import create_webhook

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "EMBEDDED_WORKER": False, "WEBHOOK_ALLOW_PRIVATE": True})
    with app.app_context():
        user = create_user(f"bench-{uuid.uuid4().hex[:6]}@bench.test", "Bench", "bench-password")
        hook = {"url": receiver_url, "events": ["issue.*"], "active": True, "description": ""}
        web = create_webhook(create_project(user, "WEB", "Deliveries"), user, hook)
        hooks = create_project(user, "HOOKS", "Five webhooks")
        for _ in range(5):
            create_webhook(hooks, user, hook)
        create_project(user, "PLAIN", "No webhook")
        token, _ = issue_token(user)
        db.session.commit()
        secret = web.secret
        db.engine.dispose()
    return token, secret


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def at_seconds(stamp):
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).replace(tzinfo=timezone.utc).timestamp()


def create_batch(server, token, count):
    body = {"mode": "atomic", "operations": [
        {"op": "create", "resource": "issue", "data": {"project": "WEB", "title": f"Webhook issue {i}"}}
        for i in range(count)]}
    answer = requests.post(f"{server.url}/api/v1/batches", json=body, timeout=120,
                           headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 202, answer.text


def bare_loop(bodies, secret, url):
    """Sign and POST each body in turn: deliveries per second."""
    signer = StandardWebhook(secret)
    started = time.perf_counter()
    for n, body in enumerate(bodies):
        text = body
        at = datetime.now(timezone.utc)
        headers = {"Content-Type": "application/json", "webhook-id": f"bare-{n}",
                   "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signer.sign(f"bare-{n}", at, text)}
        assert requests.post(url, data=body.encode(), headers=headers, timeout=10,
                             allow_redirects=False).status_code == 200
    return len(bodies) / (time.perf_counter() - started)


def rest_latency(server, token, count):
    """Interleaved creates on HOOKS (5 webhooks) and PLAIN (none): their latencies in ms."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    took = {"HOOKS": [], "PLAIN": []}
    for n in range(count * 2):
        key = ("HOOKS", "PLAIN")[n % 2]
        started = time.perf_counter()
        assert session.post(f"{server.url}/api/v1/projects/{key}/issues", json={"title": f"Latency {n}"},
                            timeout=30).status_code == 201
        took[key].append((time.perf_counter() - started) * 1000)
    return took


def bench_engine(engine, args, workdir, redis_url, receiver):
    url = database_url_for(engine, workdir, "webhooks")
    processes = []
    redis.Redis.from_url(redis_url).flushdb()
    try:
        migrate(url)
        token, secret = seed(url, receiver.url)
        env = {"DATABASE_URL": url, "REDIS_URL": redis_url, "SOCKETIO_MESSAGE_QUEUE": redis_url,
               "BEACON_INSTANCE_PATH": str(workdir), "WEBHOOK_ALLOW_PRIVATE": "1", "BACKUP_SCHEDULE": "off"}
        processes.append(Server(env, workdir / f"server-{engine}.log"))
        processes.append(Process([sys.executable, "-m", "flask", "--app", "app", "worker"], env,
                                 workdir / f"worker-{engine}.log"))
        time.sleep(2)  # the worker's start-up
        create_batch(processes[0], token, 50)  # warm up
        receiver.wait_for(50, timeout=120)
        receiver.take()

        create_batch(processes[0], token, args.events)
        receiver.wait_for(args.events, timeout=900)
        arrivals = [(arrived, json.loads(body)["at"], body) for arrived, (_, body, _) in receiver.take()]
        committed = at_seconds(arrivals[0][1])
        lags = [arrived - at_seconds(at) for arrived, at, _ in arrivals]
        rate = len(arrivals) / (max(a for a, _, _ in arrivals) - committed)
        bare = bare_loop([body for _, _, body in arrivals], secret, receiver.url)
        receiver.take()

        paced = []
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        for n in range(200):
            assert session.post(f"{processes[0].url}/api/v1/projects/WEB/issues", json={"title": f"Paced {n}"},
                                timeout=30).status_code == 201
            receiver.wait_for(1, timeout=30)
            arrived, (_, body, _) = receiver.take()[0]
            paced.append(arrived - at_seconds(json.loads(body)["at"]))

        took = rest_latency(processes[0], token, args.creates)
        return {"rate": rate, "bare": bare, "lags": lags, "paced": paced, "took": took}
    finally:
        for process in processes:
            process.kill()
        drop_database(engine, url)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="postgresql")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--creates", type=int, default=300)
    parser.add_argument("--redis-db", type=int, default=7)
    args = parser.parse_args()
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    workdir = Path(tempfile.mkdtemp(prefix="beacon-bench-webhooks-"))
    receiver = Receiver((200, {}, b"", 0))
    for engine in args.engines.split(","):
        r = bench_engine(engine, args, workdir, redis_url, receiver)
        print(f"{engine}: {args.events:,} issue.created events committed at once, one worker")
        print(f"  deliveries/s             {r['rate']:8.0f}   bare sign+POST loop {r['bare']:8.0f}   "
              f"ratio {r['rate'] / r['bare']:.2f} (target >= 0.5)")
        print(f"  commit to receipt        p50 {percentile(r['lags'], 0.5) * 1000:7.0f} ms   "
              f"p95 {percentile(r['lags'], 0.95) * 1000:7.0f} ms   (all queued at once)")
        print(f"  paced (200 single creates) p50 {percentile(r['paced'], 0.5) * 1000:5.0f} ms   "
              f"p95 {percentile(r['paced'], 0.95) * 1000:5.0f} ms")
        hooks, plain = r["took"]["HOOKS"], r["took"]["PLAIN"]
        p50 = (statistics.median(hooks), statistics.median(plain))
        p95 = (percentile(hooks, 0.95), percentile(plain, 0.95))
        print(f"  REST create, 5 webhooks  p50 {p50[0]:6.1f} ms   p95 {p95[0]:6.1f} ms")
        print(f"  REST create, none        p50 {p50[1]:6.1f} ms   p95 {p95[1]:6.1f} ms   "
              f"ratio p50 {p50[0] / p50[1]:.2f}, p95 {p95[0] / p95[1]:.2f} (target <= 1.1)")


if __name__ == "__main__":
    main()
