"""Issue analytics: overview counts, created vs resolved, cycle time, breakdown, flow."""
from sqlalchemy import case, distinct, func, select

from ..extensions import db
from ..models import Comment, Event, Issue, IssueLabel, IssueStatusChange, Project
from ..models.issues import STATUSES
from .scope import in_scope
from .sql import (as_float, calendar, day_buckets, day_key, exact_percentiles, first_day_key, hours_between,
                  key_label, week_buckets, week_key)

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
    key = day_key if interval == "day" else week_key
    cal = calendar(buckets)
    first, end = buckets[0][1], buckets[-1][2]  # a week bucket counts its whole week

    def counted(column):
        bucket = key(column)  # one expression object: PostgreSQL must see the same GROUP BY text
        grouped = (select(bucket.label("key"), func.count().label("n"))
                   .where(in_scope(Issue.project_id, scope), column >= first, column < end)
                   .group_by(bucket).subquery())
        return select(key_label(grouped.c.key).label("label"), grouped.c.n).subquery()

    created, resolved = counted(Issue.created_at), counted(Issue.resolved_at)
    c, r = func.coalesce(created.c.n, 0), func.coalesce(resolved.c.n, 0)
    query = (select(cal.c.label, c, r, func.sum(c).over(order_by=cal.c.label), func.sum(r).over(order_by=cal.c.label))
             .select_from(cal).outerjoin(created, created.c.label == cal.c.label)
             .outerjoin(resolved, resolved.c.label == cal.c.label).order_by(cal.c.label))
    rows = db.session.execute(query).all()
    return {
        "interval": interval, "from": buckets[0][0], "to": scope.today.isoformat(),
        "buckets": [{"start": row[0], "created": row[1], "resolved": row[2], "cumulative_created": int(row[3]),
                     "cumulative_resolved": int(row[4])} for row in rows],
    }


def cycle_time(scope):
    resolved = (select(hours_between(Issue.created_at, Issue.resolved_at).label("hours"))
                .where(in_scope(Issue.project_id, scope), Issue.resolved_at >= scope.start)).subquery()
    count, mean = db.session.execute(select(func.count(), func.avg(resolved.c.hours))).one()
    values = exact_percentiles(resolved, "hours", PERCENTILES) if count else [None] * len(PERCENTILES)
    return {"count": count, "mean": as_float(mean), **dict(zip(("p50", "p85", "p95", "p99"), values, strict=True))}


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
    summing those moves up to the end of a day gives that day's standing counts. Moves
    before the window count on its first day.
    """
    buckets = day_buckets(scope.days, scope.today)
    first_label, end = buckets[0][0], buckets[-1][2]
    change = IssueStatusChange
    day = case((change.at < buckets[0][1], first_day_key(first_label)), else_=day_key(change.at))
    moves = [(func.count(case((change.to_status == s, 1))) - func.count(case((change.from_status == s, 1)))).label(s)
             for s in STATUSES]  # one pass: into a status counts +1, out of it -1
    grouped = (select(day.label("key"), *moves)
               .where(in_scope(change.project_id, scope), change.at < end).group_by(day).subquery())
    per_day = select(key_label(grouped.c.key).label("label"), *[grouped.c[s] for s in STATUSES]).subquery()
    cal = calendar(buckets)
    running = [func.sum(func.coalesce(per_day.c[s], 0)).over(order_by=cal.c.label) for s in STATUSES]
    rows = db.session.execute(select(cal.c.label, *running).select_from(cal)
                              .outerjoin(per_day, per_day.c.label == cal.c.label).order_by(cal.c.label)).all()
    return {"days": [{"date": r[0], **{s: int(r[i + 1]) for i, s in enumerate(STATUSES)}} for r in rows]}
