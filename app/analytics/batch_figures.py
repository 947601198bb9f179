"""Bulk-operation analytics from finished batches and their per-operation results."""
from sqlalchemy import func, select

from ..extensions import db
from ..models import Batch, BatchResult
from .sql import as_float, calendar, day_buckets, exact_percentiles

FINISHED = ("succeeded", "partially_succeeded", "failed", "cancelled")


def _visible(scope):
    """Batches in the window the caller may see: their own (admins: all)."""
    where = [Batch.created_at >= scope.start, Batch.status.in_(FINISHED)]
    if not scope.is_admin:
        where.append(Batch.user_id == scope.user_id)
    return where


def _summary(where):
    count, operations, succeeded, failed, duration = db.session.execute(
        select(func.count(Batch.id), func.coalesce(func.sum(Batch.total), 0), func.coalesce(func.sum(Batch.succeeded), 0),
               func.coalesce(func.sum(Batch.failed), 0), func.sum(Batch.duration_ms)).where(*where)).one()
    durations = select(Batch.duration_ms.label("ms")).where(*where, Batch.duration_ms.is_not(None)).subquery()
    p50, p95, p99 = exact_percentiles(durations, "ms", (0.5, 0.95, 0.99)) if count else (None, None, None)
    return {
        "count": count, "operations": int(operations), "succeeded": int(succeeded), "failed": int(failed),
        "success_rate": as_float(succeeded / operations) if operations else None,
        "p50_ms": p50, "p95_ms": p95, "p99_ms": p99,
        "throughput_ops_s": as_float(operations / (duration / 1000)) if duration else None,
    }


def bulk_operations(scope):
    where = _visible(scope)
    modes = db.session.scalars(select(Batch.mode).where(*where).group_by(Batch.mode).order_by(Batch.mode)).all()
    per_operation = db.session.execute(
        select(BatchResult.operation, func.count(), func.count(db.case((BatchResult.status == "succeeded", 1))),
               func.count(db.case((BatchResult.status == "failed", 1))))
        .join(Batch, Batch.id == BatchResult.batch_id).where(*where)
        .group_by(BatchResult.operation).order_by(BatchResult.operation)).all()
    cal = calendar(day_buckets(scope.days, scope.today))
    trend = db.session.execute(
        select(cal.c.label, func.count(Batch.id), func.coalesce(func.sum(Batch.total), 0))
        .select_from(cal).outerjoin(Batch, db.and_(Batch.created_at >= cal.c.start, Batch.created_at < cal.c.end, *where))
        .group_by(cal.c.label).order_by(cal.c.label)).all()
    return {
        "batches": _summary(where),
        "by_mode": [{"mode": mode, **_summary([*where, Batch.mode == mode])} for mode in modes],
        "by_operation": [{"operation": op, "count": n, "succeeded": ok, "failed": bad,
                          "error_rate": as_float(bad / n) if n else None} for op, n, ok, bad in per_operation],
        "trend": [{"date": day, "batches": n, "operations": int(ops)} for day, n, ops in trend],
    }


def batch_totals(scope):
    """Batches and operations in the window, for the overview."""
    count, operations = db.session.execute(
        select(func.count(Batch.id), func.coalesce(func.sum(Batch.total), 0)).where(*_visible(scope))).one()
    return {"batches": count, "operations": int(operations)}
