"""The audit log: who did what to users, backups, restores and memberships."""
from ..extensions import db
from .base import BigId, utcnow


class AuditEntry(db.Model):
    __tablename__ = "audit_log"
    __table_args__ = (db.Index("ix_audit_action_at", "action", "at"),)

    id = db.Column(BigId, primary_key=True)
    at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)
    actor_id = db.Column(db.Integer)  # no foreign key: the log outlives users and restores
    action = db.Column(db.String(64), nullable=False)
    target_type = db.Column(db.String(32))
    target_id = db.Column(db.String(64))
    data = db.Column(db.JSON, nullable=False, default=dict)
    request_id = db.Column(db.String(64))
