"""What the RQ worker runs for webhooks: sends, the dispatcher of due ones, the sweep.

``deliver_job`` takes deliveries leased to it, renews their leases and hands each to the
worker's *senders*, a pool of threads with a cap per webhook: a slow or dead receiver
holds at most ``WEBHOOK_SENDERS_PER_ENDPOINT`` threads for its 10 s timeouts, and the
other webhooks' deliveries go on through the others (a job that waited for its sends
kept every later delivery of the one worker behind the slowest receiver). Deliveries
over a webhook's cap are left due for the dispatcher.

``dispatch_due`` (scheduled every ``WEBHOOK_DISPATCH_SECONDS``) leases the due deliveries
no one holds and queues them: retries whose time came, and sends whose worker died
(their lease lapsed), under the same delivery id. ``sweep_deliveries`` deletes deliveries
older than ``WEBHOOK_RETENTION_DAYS``.
"""
import logging
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, or_, select, update

from ..extensions import db, per_app
from ..models import WebhookDelivery
from ..models.base import utcnow
from ..worker import add_schedule, enqueue_job, in_app_context
from . import delivery

log = logging.getLogger(__name__)
JOB_SIZE = 200  # deliveries per job
DISPATCH_LIMIT = 2000  # deliveries leased per dispatcher run


class Senders:
    """Threads that send deliveries, at most ``per_endpoint`` at a time for one webhook."""

    def __init__(self, app, size, per_endpoint):
        self.app, self.per_endpoint = app, per_endpoint
        self.executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="webhook-sender")
        self.lock = threading.Condition()
        self.busy = {}  # webhook id -> sends in flight (a key goes when its count reaches 0)

    def reserve(self, webhook_id):
        with self.lock:
            if self.busy.get(webhook_id, 0) >= self.per_endpoint:
                return False
            self.busy[webhook_id] = self.busy.get(webhook_id, 0) + 1
            return True

    def release(self, webhook_id):
        with self.lock:
            self.busy[webhook_id] -= 1
            if not self.busy[webhook_id]:
                del self.busy[webhook_id]
            self.lock.notify_all()

    def send(self, webhook_id, delivery_id, token):
        """Send a reserved delivery in a sender thread."""
        self.executor.submit(self._send, webhook_id, delivery_id, token)

    def _send(self, webhook_id, delivery_id, token):
        try:
            with self.app.app_context():
                try:
                    delivery.attempt(delivery_id, token)
                finally:
                    db.session.remove()
        except Exception:  # a thread's error has nowhere else to go; the lease brings it back
            log.exception("webhook delivery %s: the attempt failed", delivery_id)
        finally:
            self.release(webhook_id)

    def wait_idle(self, timeout):
        """Wait until no send is in flight (tests, benchmarks); True if so."""
        with self.lock:
            return self.lock.wait_for(lambda: not self.busy, timeout)


def senders(app=None):
    app = app or current_app._get_current_object()
    return per_app(app, "beacon_webhook_senders", lambda: Senders(
        app, app.config["WEBHOOK_SENDERS"], app.config["WEBHOOK_SENDERS_PER_ENDPOINT"]))


def enqueue_deliveries(delivery_ids, token):
    """Queue jobs for deliveries leased with ``token``."""
    for start in range(0, len(delivery_ids), JOB_SIZE):
        enqueue_job(deliver_job, delivery_ids[start:start + JOB_SIZE], token, job_type="webhook.deliver",
                    job_timeout=300)


@in_app_context
def deliver_job(delivery_ids, token):
    """Renew the leases of these deliveries (if still ``token``'s) and send them."""
    pool = senders()
    lease_until = utcnow() + timedelta(seconds=current_app.config["WEBHOOK_LEASE_SECONDS"])
    held = db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(delivery_ids), WebhookDelivery.lease_token == token,
               WebhookDelivery.status == "pending")
        .values(lease_until=lease_until).returning(WebhookDelivery.id, WebhookDelivery.webhook_id)).all()
    db.session.commit()
    waiting = []
    for delivery_id, webhook_id in held:
        if pool.reserve(webhook_id):
            pool.send(webhook_id, delivery_id, token)
        else:
            waiting.append(delivery_id)
    if waiting:  # over their webhook's cap: the dispatcher offers them again
        db.session.execute(update(WebhookDelivery)
                           .where(WebhookDelivery.id.in_(waiting), WebhookDelivery.lease_token == token)
                           .values(lease_until=None, lease_token=None))
        db.session.commit()
    db.session.remove()
    return {"sending": len(held) - len(waiting), "waiting": len(waiting)}


@in_app_context
def dispatch_due():
    """Lease the due deliveries that no one holds, and queue them."""
    now = utcnow()
    token = secrets.token_hex(16)
    due = (select(WebhookDelivery.id)
           .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
                  or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now))
           .order_by(WebhookDelivery.next_attempt_at).limit(DISPATCH_LIMIT))
    lease_until = now + timedelta(seconds=current_app.config["WEBHOOK_LEASE_SECONDS"])
    ids = list(db.session.scalars(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(due.scalar_subquery()),
               or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now))
        .values(lease_token=token, lease_until=lease_until).returning(WebhookDelivery.id)))
    db.session.commit()
    db.session.remove()
    if ids:
        enqueue_deliveries(sorted(ids), token)
    return len(ids)


@in_app_context
def sweep_deliveries():
    """Delete deliveries (and their attempts) older than ``WEBHOOK_RETENTION_DAYS``."""
    cutoff = utcnow() - timedelta(days=current_app.config["WEBHOOK_RETENTION_DAYS"])
    removed = db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.created_at < cutoff)).rowcount
    db.session.commit()
    db.session.remove()
    return removed


def register_schedule(app):
    """Dispatch due deliveries every ``WEBHOOK_DISPATCH_SECONDS``; sweep old ones hourly."""
    add_schedule(app, dispatch_due, interval=app.config["WEBHOOK_DISPATCH_SECONDS"], name="webhook_dispatch")
    add_schedule(app, sweep_deliveries, interval=3600, name="webhook_sweep")
