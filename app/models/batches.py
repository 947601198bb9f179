"""Batches of operations and their per-operation results."""
from sqlalchemy.orm import deferred

from ..extensions import db
from .base import utcnow

BATCH_STATUSES = ("queued", "running", "succeeded", "partially_succeeded", "failed", "cancelled")


class Batch(db.Model):
    __tablename__ = "batches"
    __table_args__ = (
        db.UniqueConstraint("user_id", "idempotency_key", name="uq_batches_user_idempotency_key"),
        db.Index("ix_batches_user_created", "user_id", "created_at", "id"),
        db.Index("ix_batches_finished_at", "finished_at"),
    )

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    mode = db.Column(db.String(16), nullable=False)
    dry_run = db.Column(db.Boolean, nullable=False, default=False)
    status = db.Column(db.String(24), nullable=False, default="queued")
    # Up to 10,000 operations (800 kB for plain creates): loaded only by whoever reads them.
    operations = deferred(db.Column(db.JSON, nullable=False))
    total = db.Column(db.Integer, nullable=False)
    done = db.Column(db.Integer, nullable=False, default=0)
    succeeded = db.Column(db.Integer, nullable=False, default=0)
    failed = db.Column(db.Integer, nullable=False, default=0)
    idempotency_key = db.Column(db.String(200))
    request_hash = db.Column(db.String(64))
    cancel_requested = db.Column(db.Boolean, nullable=False, default=False)
    job_id = db.Column(db.String(64))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    started_at = db.Column(db.DateTime)
    finished_at = db.Column(db.DateTime)
    duration_ms = db.Column(db.Integer)


class BatchResult(db.Model):
    """The outcome of one operation; ``operation`` is e.g. ``issue.create``."""

    __tablename__ = "batch_results"

    batch_id = db.Column(db.Integer, db.ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True)
    index = db.Column(db.Integer, primary_key=True)
    operation = db.Column(db.String(32), nullable=False)
    status = db.Column(db.String(16), nullable=False)
    resource_id = db.Column(db.Integer)
    error = db.Column(db.Text)
