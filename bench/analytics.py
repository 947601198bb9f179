"""Benchmark the analytics endpoints against hand-written SQL computing the same figure.

    .venv/bin/python bench/analytics.py [--engines sqlite,postgresql] [--issues 100000] [--calls 50]

Generates N issues over the last 90 days, 3 status changes and 10 events per issue
(N=100,000: 1,000,000 events), then times 50 uncached calls of each endpoint
(in-process, through the full Flask stack) and the single hand-written query computing
the same figure (on PostgreSQL for every endpoint; the SQLite ones are partial sketches).
"""
import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import database_url_for, drop_database, migrate  # noqa: E402

# One hand-written query per figure, computing what the endpoint computes (30-day window).
WINDOW = "date_trunc('day', now() at time zone 'utc') - interval '29 days'"
DAYS = f"generate_series({WINDOW}, date_trunc('day', now() at time zone 'utc'), interval '1 day')"
BASELINES = {
    "postgresql": {
        "overview": f"""SELECT (SELECT count(*) FROM projects),
            count(*), count(*) FILTER (WHERE status = 'open'), count(*) FILTER (WHERE status = 'in_progress'),
            count(*) FILTER (WHERE status = 'resolved'), count(*) FILTER (WHERE status = 'closed'),
            (SELECT count(*) FROM comments), (SELECT count(DISTINCT actor_id) FROM events WHERE at >= {WINDOW}),
            (SELECT count(*) FROM batches WHERE created_at >= {WINDOW}) FROM issues""",
        "issues/created-vs-resolved": f"""SELECT d, c, r, sum(c) OVER (ORDER BY d), sum(r) OVER (ORDER BY d) FROM (
            SELECT d, (SELECT count(*) FROM issues WHERE created_at >= d AND created_at < d + interval '1 day') c,
                      (SELECT count(*) FROM issues WHERE resolved_at >= d AND resolved_at < d + interval '1 day') r
            FROM {DAYS} d) s""",
        "issues/cycle-time": f"""SELECT count(*), avg(h), percentile_cont(0.5) WITHIN GROUP (ORDER BY h),
            percentile_cont(0.85) WITHIN GROUP (ORDER BY h), percentile_cont(0.95) WITHIN GROUP (ORDER BY h),
            percentile_cont(0.99) WITHIN GROUP (ORDER BY h)
            FROM (SELECT extract(epoch FROM resolved_at - created_at) / 3600 h FROM issues
                  WHERE resolved_at >= {WINDOW}) s""",
        "issues/breakdown?by=status": "SELECT status, count(*) FROM issues GROUP BY status ORDER BY 2 DESC",
        "issues/breakdown?by=label": """SELECT l.name, count(*) FROM issues i LEFT JOIN issue_labels l
            ON l.issue_id = i.id GROUP BY l.name ORDER BY 2 DESC""",
        "issues/flow": f"""SELECT d, sum(open) OVER w, sum(prog) OVER w, sum(res) OVER w, sum(clo) OVER w FROM (
            SELECT greatest(at::date, ({WINDOW})::date) d,
                   count(*) FILTER (WHERE to_status = 'open') - count(*) FILTER (WHERE from_status = 'open') open,
                   count(*) FILTER (WHERE to_status = 'in_progress')
                     - count(*) FILTER (WHERE from_status = 'in_progress') prog,
                   count(*) FILTER (WHERE to_status = 'resolved') - count(*) FILTER (WHERE from_status = 'resolved') res,
                   count(*) FILTER (WHERE to_status = 'closed') - count(*) FILTER (WHERE from_status = 'closed') clo
            FROM issue_status_changes GROUP BY 1) s WINDOW w AS (ORDER BY d)""",
        "leaderboard?metric=comments": f"""SELECT u.id, u.name, count(*) FROM comments c JOIN users u
            ON u.id = c.author_id WHERE c.created_at >= {WINDOW} GROUP BY u.id, u.name ORDER BY 3 DESC LIMIT 10""",
        "bulk-operations": f"""SELECT count(*), sum(total), sum(succeeded), sum(failed),
            percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) FROM batches WHERE created_at >= {WINDOW}""",
        "realtime": "SELECT count(*) FROM events WHERE at >= now() at time zone 'utc' - interval '5 minutes'",
    },
    "sqlite": {
        "issues/cycle-time": "SELECT count(*), avg((julianday(resolved_at) - julianday(created_at)) * 24) FROM issues "
                             "WHERE resolved_at >= datetime('now', '-30 days')",
        "issues/created-vs-resolved": "SELECT date(created_at), count(*) FROM issues WHERE created_at >= "
                                      "datetime('now', '-30 days') GROUP BY 1",
        "issues/breakdown?by=status": "SELECT status, count(*) FROM issues GROUP BY status ORDER BY 2 DESC",
        "leaderboard?metric=comments": "SELECT author_id, count(*) FROM comments WHERE created_at >= "
                                       "datetime('now', '-30 days') GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
        "issues/flow": "SELECT date(at), to_status, count(*) FROM issue_status_changes GROUP BY 1, 2",
        "overview": "SELECT status, count(*) FROM issues GROUP BY status",
    },
}
ENDPOINTS = ["overview", "issues/created-vs-resolved", "issues/created-vs-resolved?interval=week",
             "issues/cycle-time", "issues/breakdown?by=status", "issues/breakdown?by=label", "issues/flow",
             "leaderboard?metric=comments", "bulk-operations", "realtime"]


def generate(app, issues):
    """Insert the data set with Core executemany, in batches."""
    from sqlalchemy import insert, update

    from app.auth.tokens import issue_token
    from app.extensions import db
    from app.models import Comment, Event, Issue, IssueLabel, IssueStatusChange, Project
    from app.models.base import utcnow
    from app.projects.service import create_project
    from app.users.service import create_user

    rng = random.Random(1)
    user = create_user("bench@bench.test", "Bench", "bench-password", is_admin=True)
    project = create_project(user, "WEB", "Bench")
    token, _ = issue_token(user)
    db.session.commit()
    now, step = utcnow(), 5_000
    for first in range(1, issues + 1, step):
        numbers = range(first, min(first + step, issues + 1))
        rows, changes, events, labels, comments = [], [], [], [], []
        for n in numbers:
            created = now - timedelta(minutes=rng.uniform(0, 90 * 24 * 60))
            hours = [rng.uniform(1, 200) for _ in range(3)]
            times = [created + timedelta(hours=sum(hours[:i + 1])) for i in range(3)]
            times = [t for t in times if t < now]
            path = ["in_progress", "resolved", "closed"][:len(times)]
            status = path[-1] if path else "open"
            resolved = times[1] if len(times) > 1 else None
            rows.append({"id": n, "project_id": project.id, "number": n, "title": f"Issue {n}", "description": "",
                         "status": status, "priority": rng.choice(["low", "medium", "high", "critical"]),
                         "reporter_id": user.id, "created_at": created, "updated_at": created,
                         "resolved_at": resolved, "version": 1})
            previous = None
            for at, to in [(created, "open")] + list(zip(times, path)):
                changes.append({"issue_id": n, "project_id": project.id, "from_status": previous, "to_status": to,
                                "at": at, "actor_id": user.id})
                previous = to
            labels.append({"issue_id": n, "name": rng.choice(["bug", "feature", "ux"])})
            comments.append({"issue_id": n, "project_id": project.id, "author_id": user.id, "body": "c",
                             "created_at": created, "updated_at": created, "version": 1})
        seq0 = db.session.execute(update(Project).where(Project.id == project.id).values(
            last_event_seq=Project.last_event_seq + len(rows) * 10).returning(Project.last_event_seq)).scalar()
        base = seq0 - len(rows) * 10
        events = [{"project_id": project.id, "seq": base + i + 1, "type": "issue.updated", "actor_id": user.id,
                   "at": rows[i // 10]["created_at"], "data": {}} for i in range(len(rows) * 10)]
        for table, batch in ((Issue, rows), (IssueStatusChange, changes), (IssueLabel, labels),
                             (Comment, comments), (Event, events)):
            db.session.execute(insert(table), batch)
        db.session.commit()
    db.session.execute(update(Project).values(last_issue_number=issues))
    db.session.commit()
    return token


def timed(fn, calls):
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def bench_engine(engine, args, workdir):
    from sqlalchemy import text

    from app import create_app
    from app.extensions import db

    url = database_url_for(engine, workdir, "analytics")
    migrate(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "EMBEDDED_WORKER": False, "ANALYTICS_CACHE_SECONDS": 0})
    try:
        with app.app_context():
            started = time.perf_counter()
            token = generate(app, args.issues)
            if engine == "postgresql":
                db.session.execute(text("ANALYZE"))
                db.session.commit()
            print(f"{engine}: {args.issues} issues, {args.issues * 10} events, {args.issues * 4} status changes "
                  f"generated in {time.perf_counter() - started:.0f} s; {args.calls} uncached calls each")
            client = app.test_client()
            headers = {"Authorization": f"Bearer {token}", "Cache-Control": "no-cache"}
            for endpoint in ENDPOINTS:
                def call():
                    response = client.get(f"/api/v1/analytics/{endpoint}", headers=headers)
                    assert response.status_code == 200, response.json
                p50, p95 = timed(call, args.calls)
                sql = BASELINES[engine].get(endpoint)
                if sql:
                    b50, _ = timed(lambda: db.session.execute(text(sql)).all(), args.calls)
                    ratio = f"hand-written SQL p50 {b50:7.1f} ms  ratio {p50 / b50:5.2f}x"
                else:
                    ratio = "(no single-query baseline)"
                print(f"  {endpoint:<42} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  {ratio}")
            db.session.remove()
            db.engine.dispose()
    finally:
        drop_database(engine, url)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--issues", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="beacon-bench-"))
    for engine in args.engines.split(","):
        bench_engine(engine, args, workdir)


if __name__ == "__main__":
    main()
