"""SQL building blocks: a calendar of buckets, hours between timestamps, exact percentiles."""
from datetime import date, datetime, time, timedelta

from sqlalchemy import Date, DateTime, Integer, String, case, cast, func, literal, select, union_all

from ..extensions import db

def dialect():
    return db.engine.dialect.name


def calendar(buckets, name="calendar"):
    """A CTE of ``(label, start, end)`` rows, one per bucket, to gap-fill series against."""
    rows = [
        select(literal(label, String()).label("label"), literal(start, DateTime()).label("start"),
               literal(end, DateTime()).label("end"))
        for label, start, end in buckets
    ]
    return union_all(*rows).cte(name)


def day_buckets(days, today):
    """The ``days`` UTC dates ending today: ``(YYYY-MM-DD, start, end)``."""
    first = today - timedelta(days=days - 1)
    return [((first + timedelta(days=i)).isoformat(), datetime.combine(first + timedelta(days=i), time()),
             datetime.combine(first + timedelta(days=i + 1), time())) for i in range(days)]


def week_buckets(days, today):
    """ISO weeks (Monday starts) that overlap the window of ``days`` dates ending today."""
    first = today - timedelta(days=days - 1)
    monday = first - timedelta(days=first.weekday())
    buckets = []
    while monday <= today:
        start = datetime.combine(monday, time())
        buckets.append((monday.isoformat(), start, start + timedelta(days=7)))
        monday += timedelta(days=7)
    return buckets


def day_key(column):
    """The UTC date of a timestamp, cheap to compute per row and to group by."""
    return cast(column, Date()) if dialect() == "postgresql" else func.date(column)


def week_key(column):
    """The Monday starting a timestamp's ISO week."""
    if dialect() == "postgresql":
        return cast(func.date_trunc("week", column), Date())
    weekday_from_monday = (cast(func.strftime("%w", column), Integer()) + 6) % 7
    return func.date(column, "-" + cast(weekday_from_monday, String()) + " days")


def key_label(key):
    """``YYYY-MM-DD`` of a day or week key: applied to grouped rows only."""
    return func.to_char(key, "YYYY-MM-DD") if dialect() == "postgresql" else key


def first_day_key(first_label):
    """The key of the window's first day, as a literal comparable with ``day_key``."""
    return literal(date.fromisoformat(first_label), Date()) if dialect() == "postgresql" else literal(first_label)


def hours_between(start, end):
    if dialect() == "postgresql":
        return func.extract("epoch", end - start) / 3600.0
    return (func.julianday(end) - func.julianday(start)) * 24.0


def exact_percentiles(values, column, fractions):
    """Exact continuous percentiles (``percentile_cont``) of ``column`` in the subquery ``values``.

    SQLite has no percentile_cont; the same linear interpolation between the two nearest
    ranks is computed with ROW_NUMBER and COUNT windows, so both engines agree.
    """
    if dialect() == "postgresql":
        query = select(*[func.percentile_cont(p).within_group(values.c[column]) for p in fractions])
    else:
        ranked = select(values.c[column].label("v"), func.row_number().over(order_by=values.c[column]).label("rn"),
                        func.count().over().label("n")).subquery()
        columns = []
        for p in fractions:
            position = 1 + p * (ranked.c.n - 1)
            low = cast(position, Integer())  # floor: positions are never negative
            low_value = func.max(case((ranked.c.rn == low, ranked.c.v)))
            high_value = func.coalesce(func.max(case((ranked.c.rn == low + 1, ranked.c.v))), low_value)
            columns.append(low_value + func.max(position - low) * (high_value - low_value))
        query = select(*columns).select_from(ranked)
    return [as_float(value) for value in db.session.execute(query).one()]


def as_float(value, digits=4):
    return None if value is None else round(float(value), digits)


