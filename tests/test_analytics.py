"""Analytics: every figure from a fixed data set, checked against values computed here."""
import statistics
from datetime import datetime, time, timedelta, timezone

import pytest
from sqlalchemy import update

from app.extensions import db
from app.models import Batch, BatchResult, Issue, IssueStatusChange

TODAY = datetime.now(timezone.utc).date()
MIDNIGHT = datetime.combine(TODAY, time())
NO_CACHE = {"Cache-Control": "no-cache"}


def percentile(values, p):
    """percentile_cont by its definition: linear interpolation between closest ranks."""
    values = sorted(values)
    position = p * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (position - low) * (values[high] - values[low])


def backdate(issue, created, changes):
    """Give an issue a created time and a status history [(hours after creation, status)]."""
    db.session.execute(update(IssueStatusChange).where(IssueStatusChange.issue_id == issue.id).values(at=created))
    status, resolved = "open", None
    for hours, new in changes:
        at = created + timedelta(hours=hours)
        db.session.add(IssueStatusChange(issue_id=issue.id, project_id=issue.project_id, from_status=status,
                                         to_status=new, at=at, actor_id=issue.reporter_id))
        if new in ("resolved", "closed") and resolved is None:
            resolved = at
        if new in ("open", "in_progress"):
            resolved = None
        status = new
    db.session.execute(update(Issue).where(Issue.id == issue.id).values(
        created_at=created, status=status, resolved_at=resolved, version=Issue.version))
    db.session.commit()


@pytest.fixture
def data(factory):
    """Project WEB: 5 issues over the last days; project API: 1 issue the viewer cannot see."""
    owner, viewer = factory.user("Owner"), factory.user("Viewer")
    web, api = factory.project(owner, "WEB"), factory.project(owner, "API")
    factory.member(web, viewer, "viewer")
    day = lambda n: MIDNIGHT - timedelta(days=n)  # noqa: E731
    specs = [  # (created, history, priority, labels, assignee)
        (day(5) + timedelta(hours=1), [(2, "in_progress"), (10, "resolved")], "high", ["bug"], owner.id),
        (day(5) + timedelta(hours=3), [(30, "resolved"), (40, "closed")], "low", ["bug", "ux"], None),
        (day(3) + timedelta(hours=2), [(1, "in_progress")], "medium", [], owner.id),
        (day(1) + timedelta(hours=5), [(4, "resolved")], "critical", ["ux"], None),
        (day(0) + timedelta(minutes=1), [], "medium", [], None),
    ]
    issues = []
    for created, history, priority, labels, assignee in specs:
        issue = factory.issue(web, owner, priority=priority, labels=labels, assignee_id=assignee)
        backdate(issue, created, history)
        issues.append(issue)
    hidden = factory.issue(api, owner)
    backdate(hidden, day(2), [(7, "resolved")])
    factory.comment(issues[0], owner, "one")
    factory.comment(issues[0], owner, "two")
    return {"owner": owner, "viewer": viewer, "specs": specs, "headers": factory.headers(owner),
            "viewer_headers": factory.headers(viewer)}


def get(client, path, headers):
    response = client.get(f"/api/v1/analytics/{path}", headers={**headers, **NO_CACHE})
    assert response.status_code == 200, response.json
    return response.json


def test_cycle_time_matches_independent_percentiles(client, data):
    hours = [10, 30, 4]  # WEB issues resolved in the window (created -> first resolution)
    body = get(client, "issues/cycle-time?project=WEB", data["headers"])
    assert body["count"] == 3
    assert body["mean"] == pytest.approx(statistics.mean(hours), abs=1e-3)
    for key, p in (("p50", 0.5), ("p85", 0.85), ("p95", 0.95), ("p99", 0.99)):
        assert body[key] == pytest.approx(percentile(hours, p), abs=1e-3), key
    everything = get(client, "issues/cycle-time", data["headers"])
    assert everything["count"] == 4 and everything["p50"] == pytest.approx(percentile([10, 30, 4, 7], 0.5), abs=1e-3)


def test_created_vs_resolved_by_day_is_gap_filled_with_cumulative_sums(client, data):
    body = get(client, "issues/created-vs-resolved?project=WEB&days=7", data["headers"])
    assert body["interval"] == "day" and body["to"] == TODAY.isoformat()
    starts = [b["start"] for b in body["buckets"]]
    assert starts == [(TODAY - timedelta(days=6 - i)).isoformat() for i in range(7)]
    created = {(TODAY - timedelta(days=n)).isoformat(): c for n, c in ((5, 2), (3, 1), (1, 1), (0, 1))}
    resolved_times = [MIDNIGHT - timedelta(days=5) + timedelta(hours=11),  # created 01:00 + 10 h
                      MIDNIGHT - timedelta(days=5) + timedelta(hours=33),  # 03:00 + 30 h: the next day
                      MIDNIGHT - timedelta(days=1) + timedelta(hours=9)]
    resolved = {}
    for at in resolved_times:
        resolved[at.date().isoformat()] = resolved.get(at.date().isoformat(), 0) + 1
    running_c = running_r = 0
    for bucket in body["buckets"]:
        running_c += created.get(bucket["start"], 0)
        running_r += resolved.get(bucket["start"], 0)
        assert (bucket["created"], bucket["resolved"]) == (created.get(bucket["start"], 0), resolved.get(bucket["start"], 0))
        assert (bucket["cumulative_created"], bucket["cumulative_resolved"]) == (running_c, running_r)


def test_created_vs_resolved_by_iso_week(client, data):
    body = get(client, "issues/created-vs-resolved?project=WEB&interval=week&days=14", data["headers"])
    first_day = TODAY - timedelta(days=13)
    monday = first_day - timedelta(days=first_day.weekday())
    expected_starts = []
    while monday <= TODAY:
        expected_starts.append(monday.isoformat())
        monday += timedelta(days=7)
    assert [b["start"] for b in body["buckets"]] == expected_starts
    assert sum(b["created"] for b in body["buckets"]) == 5
    assert body["buckets"][-1]["cumulative_created"] == 5


def test_breakdowns_largest_first(client, data):
    by = lambda what: {i["key"]: i["count"] for i in get(client, f"issues/breakdown?by={what}&project=WEB", data["headers"])["items"]}  # noqa: E731
    assert by("status") == {"resolved": 2, "closed": 1, "in_progress": 1, "open": 1}
    assert by("priority") == {"medium": 2, "high": 1, "low": 1, "critical": 1}
    assert by("assignee") == {None: 3, data["owner"].id: 2}
    assert by("label") == {"bug": 2, "ux": 2, None: 2}
    items = get(client, "issues/breakdown?by=status&project=WEB", data["headers"])["items"]
    assert items[0] == {"key": "resolved", "count": 2}


def test_flow_counts_standing_issues_at_each_day_end(client, data):
    body = get(client, "issues/flow?project=WEB&days=7", data["headers"])
    by_date = {d["date"]: d for d in body["days"]}
    specs = data["specs"]
    for n in range(7):
        day = TODAY - timedelta(days=n)
        end = datetime.combine(day + timedelta(days=1), time())
        expected = {"open": 0, "in_progress": 0, "resolved": 0, "closed": 0}
        for created, history, *_ in specs:
            if created >= end:
                continue
            status = "open"
            for hours, new in history:
                if created + timedelta(hours=hours) < end:
                    status = new
            expected[status] += 1
        assert {k: by_date[day.isoformat()][k] for k in expected} == expected, day


def test_overview_and_leaderboard(client, data):
    body = get(client, "overview?project=WEB", data["headers"])
    assert body["projects"] == 1 and body["comments"] == 2
    assert body["issues"] == {"total": 5, "open": 1, "in_progress": 1, "resolved": 2, "closed": 1}
    assert body["active_users"] == 1 and body["online_users"] == 0
    board = get(client, "leaderboard?metric=created&project=WEB", data["headers"])
    assert board["items"] == [{"user_id": data["owner"].id, "name": "Owner", "count": 5}]
    resolved = get(client, "leaderboard?metric=resolved&project=WEB", data["headers"])["items"]
    assert resolved[0]["count"] == 3


def test_scope_is_the_projects_the_caller_reads(client, data):
    viewer = data["viewer_headers"]
    assert get(client, "overview", viewer)["issues"]["total"] == 5  # WEB only
    assert get(client, "overview", data["headers"])["issues"]["total"] == 6
    assert client.get("/api/v1/analytics/overview?project=API", headers=viewer).status_code == 404


def test_bulk_operations_from_finished_batches(client, factory, data):
    owner = data["owner"]
    now = MIDNIGHT + timedelta(minutes=2)
    rows = [("atomic", "succeeded", 4, 4, 0, 200), ("best_effort", "partially_succeeded", 4, 3, 1, 100),
            ("best_effort", "succeeded", 2, 2, 0, 700)]
    for mode, status, total, ok, bad, ms in rows:
        batch = Batch(user_id=owner.id, mode=mode, status=status, operations=[], total=total, done=total,
                      succeeded=ok, failed=bad, created_at=now, finished_at=now, duration_ms=ms)
        db.session.add(batch)
        db.session.flush()
        for i in range(total):
            db.session.add(BatchResult(batch_id=batch.id, index=i, operation="issue.create",
                                       status="failed" if i < bad else "succeeded"))
    db.session.commit()
    body = get(client, "bulk-operations", data["headers"])
    summary = body["batches"]
    assert (summary["count"], summary["operations"], summary["succeeded"], summary["failed"]) == (3, 10, 9, 1)
    assert summary["success_rate"] == pytest.approx(0.9)
    assert summary["p50_ms"] == pytest.approx(percentile([200, 100, 700], 0.5))
    assert summary["p95_ms"] == pytest.approx(percentile([200, 100, 700], 0.95))
    assert summary["throughput_ops_s"] == pytest.approx(10 / 1.0)
    modes = {m["mode"]: m for m in body["by_mode"]}
    assert modes["best_effort"]["operations"] == 6 and modes["atomic"]["success_rate"] == 1.0
    assert body["by_operation"] == [{"operation": "issue.create", "count": 10, "succeeded": 9, "failed": 1,
                                     "error_rate": 0.1}]
    assert body["trend"][-1] == {"date": TODAY.isoformat(), "batches": 3, "operations": 10}
    assert get(client, "bulk-operations", data["viewer_headers"])["batches"]["count"] == 0  # not their batches


def test_empty_database_answers_with_zeros(client, factory):
    headers = factory.headers(factory.user())
    overview = get(client, "overview", headers)
    assert overview["issues"] == {"total": 0, "open": 0, "in_progress": 0, "resolved": 0, "closed": 0}
    assert get(client, "issues/cycle-time", headers) == {"count": 0, "mean": None, "p50": None, "p85": None,
                                                           "p95": None, "p99": None}
    series = get(client, "issues/created-vs-resolved?days=5", headers)["buckets"]
    assert len(series) == 5 and all(b["created"] == b["cumulative_resolved"] == 0 for b in series)
    assert all(set(d.values()) - {d["date"]} == {0} for d in get(client, "issues/flow?days=3", headers)["days"])
    assert get(client, "leaderboard", headers)["items"] == []
    assert get(client, "realtime", headers) == {"online_users": 0, "connections": 0, "events_last_5m": 0}


@pytest.mark.parametrize("query", ["overview?days=0", "overview?days=366", "overview?days=x", "overview?project=web",
                                   "issues/created-vs-resolved?interval=month", "issues/breakdown?by=reporter",
                                   "issues/breakdown", "leaderboard?metric=karma", "leaderboard?limit=0",
                                   "overview?project=NOT-A-KEY"])
def test_bad_arguments_are_422(client, factory, query):
    response = client.get(f"/api/v1/analytics/{query}", headers=factory.headers(factory.user()))
    assert response.status_code == 422 and response.mimetype == "application/problem+json"


def test_requires_a_token(client):
    assert client.get("/api/v1/analytics/overview").status_code == 401


def test_answers_are_cached_unless_no_cache(make_app, factory):
    app = make_app(ANALYTICS_CACHE_SECONDS=30)
    client = app.test_client()
    with app.app_context():
        from app.redis_client import get_redis

        get_redis().flushdb()
        owner = factory.user()
        project = factory.project(owner, "WEB")
        headers = factory.headers(owner)
        assert client.get("/api/v1/analytics/overview", headers=headers).json["issues"]["total"] == 0
        factory.issue(project, owner)
        assert client.get("/api/v1/analytics/overview", headers=headers).json["issues"]["total"] == 0
        fresh = client.get("/api/v1/analytics/overview", headers={**headers, **NO_CACHE})
        assert fresh.json["issues"]["total"] == 1
        get_redis().flushdb()
