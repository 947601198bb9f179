"""Column helpers shared by the models."""
from datetime import datetime, timezone

from sqlalchemy import BigInteger, Integer

# SQLite autoincrements only INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow():
    """Return the current UTC time as a naive datetime (the database stores UTC)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def isoformat(value):
    """Render a stored UTC datetime as ISO 8601 with a ``Z``."""
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds") + "Z"
