"""Adding a row whose unique key may already be taken: the client gets a 409, not a 500.

Apart from ``database.py`` (engine settings, which ``errors.py`` reads) so that neither
imports the other in a circle.
"""
from sqlalchemy.exc import IntegrityError

from .errors import conflict
from .extensions import db


def add_unique(row, conflict_detail):
    """Add and flush ``row``; a unique-constraint violation becomes a 409 with this detail."""
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise conflict(conflict_detail) from None
    return row
