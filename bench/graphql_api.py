"""Benchmark GraphQL against the REST calls a client would make for the same data.

    .venv/bin/python bench/graphql_api.py [--engines sqlite,postgresql] [--issues 200] [--seconds 16]

One server per engine (`gunicorn -k eventlet -w 1 wsgi:app`, the production shape, as
`bench/api.py`), a project whose first 50 issues each have an assignee, a label and 5
comments. In the same run:

- the plain list: `issues(first: 50)` over GraphQL against `GET .../issues?limit=50`
  (`wrk`, 8 connections, alternating turns); target >= 0.5x the REST list's req/s;
- the board: one GraphQL query (issues with assignee, reporter, labels and the first 3
  comments with their authors) against what REST needs for it (the list, then one
  comments call per issue), end to end for one client, alternating; target: faster.

The points budget is off (`GRAPHQL_POINTS_PER_HOUR=0`): a benchmark spends more than an hour's.
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.api import REDIS_URL, interleaved, line, seed_comments, serve  # noqa: E402
from bench.common import database_url_for, drop_database, migrate, seed_issues  # noqa: E402

BOARD_ISSUES = 50
COMMENTS = 5
BOARD_ROUNDS = 40
PLAIN = '{ issues(project: "WEB", first: 50) { nodes { id key title status priority labels createdAt version } } }'
BOARD = """{ issues(project: "WEB", first: 50) { nodes { id key title status priority labels
  assignee { id name } reporter { id name }
  comments(first: 3) { totalCount nodes { id body createdAt author { id name } } } } } }"""


def seed_board(url, first_issue_id):
    """Assignees, labels and comments on the first ``BOARD_ISSUES`` issues."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE issues SET assignee_id = reporter_id"))
        connection.execute(text("INSERT INTO issue_labels (issue_id, name) SELECT id, 'ui' FROM issues"))
    engine.dispose()
    for issue_id in range(first_issue_id, first_issue_id + BOARD_ISSUES):
        seed_comments(url, issue_id, COMMENTS)


def rest_board(session, base_url):
    """What a REST client reads for the board: the list, then each issue's comments."""
    issues = session.get(f"{base_url}/api/v1/projects/WEB/issues", params={"limit": BOARD_ISSUES}).json()["items"]
    for issue in issues:
        session.get(f"{base_url}/api/v1/issues/{issue['id']}/comments", params={"limit": 3}).raise_for_status()
    return len(issues)


def graphql_board(session, base_url):
    response = session.post(f"{base_url}/api/graphql", json={"query": BOARD})
    response.raise_for_status()
    return len(response.json()["data"]["issues"]["nodes"])


def board_times(base_url, token):
    """Milliseconds per board, REST and GraphQL in alternating rounds."""
    times = {"REST list + comments calls": [], "GraphQL board query": []}
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        for _ in range(3):  # warm both
            rest_board(session, base_url), graphql_board(session, base_url)
        for _ in range(BOARD_ROUNDS):
            for name, run in (("REST list + comments calls", rest_board), ("GraphQL board query", graphql_board)):
                start = time.perf_counter()
                assert run(session, base_url) == BOARD_ISSUES
                times[name].append((time.perf_counter() - start) * 1000)
    return {name: {"mean": statistics.fmean(t), "p95": statistics.quantiles(t, n=20)[18]} for name, t in times.items()}


def bench_engine(engine, args, workdir):
    redis.Redis.from_url(REDIS_URL).flushdb()
    url = database_url_for(engine, workdir, "graphql")
    migrate(url)
    token, first_issue_id = seed_issues(url, args.issues)
    seed_board(url, first_issue_id)
    env = {"DATABASE_URL": url, "BEACON_INSTANCE_PATH": str(workdir), "EMBEDDED_WORKER": "0",
           "RATE_LIMIT_API": "1000000/minute", "GRAPHQL_POINTS_PER_HOUR": "0"}
    if engine == "postgresql":
        env["REDIS_URL"] = REDIS_URL
    server, base_url = serve("wsgi:app", env, workdir / f"{engine}.log")
    try:
        c = args.connections
        body = json.dumps({"query": PLAIN})
        plain = interleaved({
            "REST list (limit 50)": ((f"{base_url}/api/v1/projects/WEB/issues?limit=50", c), {"token": token}),
            "GraphQL issues(first: 50)": ((f"{base_url}/api/graphql", c, "POST", body, token), {})}, args.seconds)
        board = board_times(base_url, token)
    finally:
        server.kill()
        drop_database(engine, url)
    rest, gql = plain["REST list (limit 50)"], plain["GraphQL issues(first: 50)"]
    print(f"{engine}: {args.issues} issues, {c} connections, {args.seconds}s each (wrk)")
    print(line("REST list (limit 50)", rest))
    print(line("GraphQL issues(first: 50)", gql))
    print(f"  plain query / REST list: {gql['rps'] / rest['rps']:.2f}x req/s (target >= 0.5x)")
    print(f"  board, one client, {BOARD_ROUNDS} rounds each:")
    for name, figures in board.items():
        print(f"    {name:<28} mean {figures['mean']:7.1f} ms  p95 {figures['p95']:7.1f} ms")
    speedup = board["REST list + comments calls"]["mean"] / board["GraphQL board query"]["mean"]
    print(f"  board: GraphQL is {speedup:.1f}x faster than REST end to end (target > 1x)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--issues", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=16)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="beacon-bench-graphql-") as workdir:
        for engine in args.engines.split(","):
            bench_engine(engine, args, Path(workdir))


if __name__ == "__main__":
    main()
