"""Webhooks, their deliveries, and each delivery's attempts.

A webhook with no project is an admin webhook (``backup.*``, ``alert.*``). A delivery's
row is the truth about it: ``next_attempt_at`` says when it is due, and a lease
(``lease_until``, ``lease_token``) says a worker is sending it now. A worker that dies
mid-send leaves a lease that lapses, and the dispatcher sends the delivery again, under the
same id.
"""
from ..extensions import db
from .base import BigId, utcnow


class Webhook(db.Model):
    __tablename__ = "webhooks"

    id = db.Column(db.Integer, primary_key=True)
    project_id = db.Column(db.Integer, db.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    url = db.Column(db.String(2000), nullable=False)
    events = db.Column(db.JSON, nullable=False)
    active = db.Column(db.Boolean, nullable=False, default=True)
    description = db.Column(db.String(500), nullable=False, default="")
    secret = db.Column(db.String(100), nullable=False)
    # After a rotation the old secret signs beside the new one until this time.
    previous_secret = db.Column(db.String(100))
    previous_secret_until = db.Column(db.DateTime)
    disabled_reason = db.Column(db.String(500))
    created_by = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    version = db.Column(db.Integer, nullable=False, default=1)


class WebhookDelivery(db.Model):
    __tablename__ = "webhook_deliveries"

    id = db.Column(BigId, primary_key=True)
    webhook_id = db.Column(db.Integer, db.ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False, index=True)
    event_type = db.Column(db.String(64), nullable=False)
    event_id = db.Column(db.BigInteger)
    body = db.Column(db.Text, nullable=False)
    status = db.Column(db.String(16), nullable=False, default="pending")
    attempts = db.Column(db.Integer, nullable=False, default=0)
    response_status = db.Column(db.Integer)
    error = db.Column(db.String(1000))
    next_attempt_at = db.Column(db.DateTime, index=True)
    lease_until = db.Column(db.DateTime)
    lease_token = db.Column(db.String(32))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)
    duration_ms = db.Column(db.Integer)


class WebhookAttempt(db.Model):
    __tablename__ = "webhook_attempts"

    id = db.Column(BigId, primary_key=True)
    delivery_id = db.Column(BigId, db.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False,
                            index=True)
    number = db.Column(db.Integer, nullable=False)
    at = db.Column(db.DateTime, nullable=False, default=utcnow)
    url = db.Column(db.String(2000), nullable=False)
    request_headers = db.Column(db.JSON, nullable=False)
    response_status = db.Column(db.Integer)
    response_headers = db.Column(db.JSON)
    response_body = db.Column(db.Text)
    error = db.Column(db.String(1000))
    duration_ms = db.Column(db.Integer)
