"""Benchmark the REST API against a bare Flask endpoint served the same way.

    .venv/bin/python bench/api.py [--engines sqlite,postgresql] [--issues 10000] [--seconds 10]

For each engine: a project of N issues, served by `gunicorn -k eventlet -w 1 wsgi:app`
(the production shape), on PostgreSQL with Redis (``REDIS_URL``, database 14) as in
production, on SQLite without (its one-machine shape); `wrk`
drives list / get / create and an issue's comments, and the same `wrk` drives a bare
Flask app served by the same gunicorn command, in alternating turns. Prints req/s,
p50/p95/p99 and ratios.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import database_url_for, drop_database, migrate, seed_issues  # noqa: E402
from tests.support.live import Process, free_port  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/14"
ROUNDS = 8  # turns per measurement, alternating Beacon and the bare app
COMMENTS = 20  # on the issue that "get issue" reads
LUA = """
local method, body, token = "{method}", [[{body}]], "{token}"
request = function()
  local headers = {{["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}}
  return wrk.format(method, nil, headers, body ~= "" and body or nil)
end
done = function(summary, latency, requests)
  io.write(string.format("PCT %d %d %d\\n", latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def run_wrk(url, connections, method="GET", body="", token="", *, seconds):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA.format(method=method, body=body, token=token))
    out = subprocess.run(["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "-s", script.name, url],
                         capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50, p95, p99 = (int(x) / 1000 for x in re.search(r"PCT (\d+) (\d+) (\d+)", out).groups())
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rate, "p50": p50, "p95": p95, "p99": p99, "errors": int(errors.group(1)) if errors else 0}


def interleaved(runs, seconds, rounds=ROUNDS):
    """Run each of ``runs`` (name -> run_wrk arguments) for ``seconds`` in all, in turns of
    ``seconds / rounds``, so that a slow spell of a shared host falls on all of them alike.
    Rates are over all turns; latencies are the median of the turns'."""
    turn = max(1, round(seconds / rounds))
    turns = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (args, kwargs) in runs.items():
            turns[name].append(run_wrk(*args, seconds=turn, **kwargs))
    return {name: {"rps": statistics.fmean(r["rps"] for r in results),
                   **{p: statistics.median(r[p] for r in results) for p in ("p50", "p95", "p99")},
                   "errors": sum(r["errors"] for r in results)}
            for name, results in turns.items()}


def serve(target, env, log):
    port = free_port()
    process = Process([str(ROOT / ".venv/bin/gunicorn"), "-k", "eventlet", "-w", "1", "-b", f"127.0.0.1:{port}",
                       "--log-level", "warning", target], env, log)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if requests.get(f"{url}/healthz", timeout=5).ok:
                return process, url
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(process.output())


def line(name, result, base=None):
    ratio = f"  {result['rps'] / base['rps']:.0%} of bare" if base else ""
    return (f"  {name:<22} {result['rps']:8.0f} req/s  p50 {result['p50']:6.1f} ms  p95 {result['p95']:6.1f} ms"
            f"  p99 {result['p99']:6.1f} ms  errors {result['errors']}{ratio}")


def seed_comments(url, issue_id, count):
    """``count`` comments on the issue, by its reporter, in one transaction."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        project_id, author_id, now = connection.execute(
            text("SELECT project_id, reporter_id, created_at FROM issues WHERE id = :id"), {"id": issue_id}).one()
        connection.execute(text(
            "INSERT INTO comments (issue_id, project_id, author_id, body, created_at, updated_at, version) "
            "VALUES (:issue_id, :project_id, :author_id, :body, :at, :at, 1)"),
            [{"issue_id": issue_id, "project_id": project_id, "author_id": author_id, "at": now,
              "body": f"Comment {n}: tried it again on a clean profile, same result."} for n in range(count)])
    engine.dispose()


def bench_engine(engine, args, workdir):
    redis.Redis.from_url(REDIS_URL).flushdb()
    url = database_url_for(engine, workdir, "api")
    migrate(url)
    token, issue_id = seed_issues(url, args.issues)
    seed_comments(url, issue_id, COMMENTS)
    env = {"DATABASE_URL": url, "BEACON_INSTANCE_PATH": str(workdir), "EMBEDDED_WORKER": "0",
           "RATE_LIMIT_API": "1000000/minute"}
    if engine == "postgresql":  # the production shape; SQLite is the one-machine shape, without Redis
        env["REDIS_URL"] = REDIS_URL
    beacon, base_url = serve("wsgi:app", env, workdir / f"{engine}.log")
    bare, bare_url = serve("bench.bare_app:app", {}, workdir / "bare.log")
    try:
        c, s = args.connections, args.seconds
        issues = f"{base_url}/api/v1/projects/WEB/issues"
        create = ((issues, c, "POST", '{"title": "Benchmark issue", "labels": ["bench"]}', token), {})
        results = {
            **interleaved({"bare page": ((f"{bare_url}/page", c), {}),
                           "list issues": ((issues, c), {"token": token}),
                           "list comments": ((f"{base_url}/api/v1/issues/{issue_id}/comments", c), {"token": token})},
                          s),
            **interleaved({"bare one": ((f"{bare_url}/one", c), {}),
                           "get issue": ((f"{base_url}/api/v1/issues/{issue_id}", c), {"token": token}),
                           "create issue": create}, s),
            "create issue (1 client)": run_wrk(issues, 1, "POST", '{"title": "Benchmark issue"}', token, seconds=s),
        }
    finally:
        beacon.kill()
        bare.kill()
        drop_database(engine, url)
    print(f"{engine}: {args.issues} issues, {args.connections} connections, {args.seconds}s each")
    print(line("bare Flask page", results["bare page"]))
    print(line("bare Flask one", results["bare one"]))
    print(line("list issues (50)", results["list issues"], results["bare page"]))
    print(line("get issue", results["get issue"], results["bare one"]))
    print(line(f"list comments ({COMMENTS})", results["list comments"]))
    print(line("create issue", results["create issue"], results["bare one"]))
    print(line("create issue, 1 client", results["create issue (1 client)"]))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--issues", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")
    workdir = Path(tempfile.mkdtemp(prefix="beacon-bench-"))
    for engine in args.engines.split(","):
        bench_engine(engine, args, workdir)


if __name__ == "__main__":
    main()
