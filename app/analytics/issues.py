"""Issue analytics: overview counts, created vs resolved, cycle time, breakdown, flow."""
from sqlalchemy import and_, case, distinct, func, literal, select, union_all

from ..extensions import db
from ..models import Comment, Event, Issue, IssueLabel, IssueStatusChange, Project
from ..models.issues import STATUSES
from .scope import in_scope
from .sql import as_float, calendar, day_buckets, exact_percentiles, hours_between, week_buckets

PERCENTILES = (0.5, 0.85, 0.95, 0.99)


def issue_counts(scope):
    statuses = [func.count(case((Issue.status == s, 1))).label(s) for s in STATUSES]
    row = db.session.execute(select(func.count(Issue.id), *statuses).where(in_scope(Issue.project_id, scope))).one()
    return {"total": row[0], **{s: row[i + 1] for i, s in enumerate(STATUSES)}}


def overview_counts(scope):
    comments = select(func.count(Comment.id)).where(in_scope(Comment.project_id, scope))
    active = select(func.count(distinct(Event.actor_id))).where(
        in_scope(Event.project_id, scope), Event.at >= scope.start, Event.actor_id.is_not(None))
    return {
        "projects": db.session.scalar(select(func.count(Project.id)).where(in_scope(Project.id, scope))),
        "issues": issue_counts(scope),
        "comments": db.session.scalar(comments),
        "active_users": db.session.scalar(active),
    }


def created_vs_resolved(scope, interval):
    buckets = day_buckets(scope.days, scope.today) if interval == "day" else week_buckets(scope.days, scope.today)
    cal = calendar(buckets)

    def counted(column, label):
        # a week bucket counts its whole week, also the days before the window
        joined = and_(column >= cal.c.start, column < cal.c.end, in_scope(Issue.project_id, scope))
        return (select(cal.c.label, func.count(Issue.id).label(label))
                .select_from(cal).outerjoin(Issue, joined).group_by(cal.c.label).subquery())

    created, resolved = counted(Issue.created_at, "n"), counted(Issue.resolved_at, "n")
    query = (select(created.c.label, created.c.n, resolved.c.n,
                    func.sum(created.c.n).over(order_by=created.c.label),
                    func.sum(resolved.c.n).over(order_by=created.c.label))
             .join(resolved, resolved.c.label == created.c.label).order_by(created.c.label))
    rows = db.session.execute(query).all()
    return {
        "interval": interval, "from": buckets[0][0], "to": scope.today.isoformat(),
        "buckets": [{"start": r[0], "created": r[1], "resolved": r[2], "cumulative_created": int(r[3]),
                     "cumulative_resolved": int(r[4])} for r in rows],
    }


def cycle_time(scope):
    resolved = (select(hours_between(Issue.created_at, Issue.resolved_at).label("hours"))
                .where(in_scope(Issue.project_id, scope), Issue.resolved_at >= scope.start)).subquery()
    count, mean = db.session.execute(select(func.count(), func.avg(resolved.c.hours))).one()
    values = exact_percentiles(resolved, "hours", PERCENTILES) if count else [None] * len(PERCENTILES)
    return {"count": count, "mean": as_float(mean), **dict(zip(("p50", "p85", "p95", "p99"), values))}


def breakdown(scope, by):
    if by == "label":
        key = IssueLabel.name
        query = select(key, func.count()).select_from(Issue).outerjoin(IssueLabel, IssueLabel.issue_id == Issue.id)
    else:
        key = {"status": Issue.status, "priority": Issue.priority, "assignee": Issue.assignee_id}[by]
        query = select(key, func.count())
    query = query.where(in_scope(Issue.project_id, scope)).group_by(key)
    rows = db.session.execute(query.order_by(func.count().desc(), key.asc().nulls_last())).all()
    return {"by": by, "items": [{"key": k, "count": n} for k, n in rows]}


def flow(scope):
    """Issues standing in each status at the end of each day.

    Every status change moves one issue out of ``from_status`` and into ``to_status``;
    summing those moves up to the end of a day gives that day's standing counts.
    """
    buckets = day_buckets(scope.days, scope.today)
    cal = calendar(buckets, open_start=True)
    base = in_scope(IssueStatusChange.project_id, scope)
    moves = union_all(
        select(IssueStatusChange.at.label("at"), IssueStatusChange.to_status.label("status"),
               literal(1).label("delta")).where(base),
        select(IssueStatusChange.at, IssueStatusChange.from_status, literal(-1))
        .where(base, IssueStatusChange.from_status.is_not(None)),
    ).subquery()
    daily = (select(cal.c.label, *[func.coalesce(func.sum(case((moves.c.status == s, moves.c.delta))), 0).label(s)
                                   for s in STATUSES])
             .select_from(cal).outerjoin(moves, and_(moves.c.at >= cal.c.start, moves.c.at < cal.c.end))
             .group_by(cal.c.label).subquery())
    running = [func.sum(daily.c[s]).over(order_by=daily.c.label) for s in STATUSES]
    rows = db.session.execute(select(daily.c.label, *running).order_by(daily.c.label)).all()
    return {"days": [{"date": r[0], **{s: int(r[i + 1]) for i, s in enumerate(STATUSES)}} for r in rows]}
