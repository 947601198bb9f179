"""The change feed: one row per change, numbered per project without gaps."""
from ..extensions import db
from .base import BigId, utcnow


class Event(db.Model):
    __tablename__ = "events"
    __table_args__ = (
        db.UniqueConstraint("project_id", "seq", name="uq_events_project_seq"),
        db.Index("ix_events_project_at", "project_id", "at"),
        db.Index("ix_events_actor_at", "actor_id", "at"),
    )

    id = db.Column(BigId, primary_key=True)
    project_id = db.Column(db.Integer, db.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    seq = db.Column(db.BigInteger, nullable=False)
    type = db.Column(db.String(32), nullable=False)
    actor_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    at = db.Column(db.DateTime, nullable=False, default=utcnow)
    data = db.Column(db.JSON, nullable=False, default=dict)
