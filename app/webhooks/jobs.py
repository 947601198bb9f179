"""What the RQ worker runs for webhooks: sends, the dispatcher of due ones, the sweep.

``deliver_job`` hands the deliveries leased to it to the worker's *senders*: a lane per
webhook, drained by at most ``WEBHOOK_SENDERS_PER_ENDPOINT`` threads, so a slow or dead
receiver holds only its own lane's threads through its 10 s timeouts and the other
webhooks' deliveries go on through the others. (A job that waited for its sends kept
every later delivery of the one worker behind the slowest receiver.) Each send renews
its lease as it starts, so a send that waited in its lane is not taken for lost.

``dispatch_due`` (scheduled every ``WEBHOOK_DISPATCH_SECONDS``) leases the due deliveries
no one holds and queues them: retries whose time came, and sends whose worker died
(their lease lapsed), under the same delivery id. ``sweep_deliveries`` deletes deliveries
older than ``WEBHOOK_RETENTION_DAYS``.
"""
import logging
import queue
import secrets
import threading
from collections import deque
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
TAKE = 20  # sends a drainer takes from its lane at a time
DISPATCH_LIMIT = 2000  # deliveries leased per dispatcher run


class Senders:
    """Threads that send deliveries: a lane per webhook, drained by at most
    ``per_endpoint`` threads at a time, out of ``size`` in all."""

    def __init__(self, app, size, per_endpoint):
        self.app, self.per_endpoint = app, per_endpoint
        # Daemon threads, not an executor's: a worker told to stop exits without draining
        # its lanes first (what they held comes back when the leases lapse).
        self.ready = queue.SimpleQueue()  # a webhook id per drainer to start
        self.lock = threading.Condition()
        # webhook id -> its waiting sends and its draining threads; a lane goes once empty.
        self.lanes = {}
        for number in range(size):
            threading.Thread(target=self._serve, name=f"webhook-sender-{number}", daemon=True).start()

    def send(self, webhook_id, delivery_id, token):
        """Send a delivery held by ``token`` in its webhook's lane."""
        with self.lock:
            lane = self.lanes.setdefault(webhook_id, {"waiting": deque(), "draining": 0})
            lane["waiting"].append((delivery_id, token))
            if lane["draining"] < self.per_endpoint:
                lane["draining"] += 1
                self.ready.put(webhook_id)

    def _next(self, webhook_id):
        """Up to ``TAKE`` waiting sends of the lane, or [] when this drainer should stop."""
        with self.lock:
            waiting = self.lanes[webhook_id]["waiting"]
            if waiting:
                return [waiting.popleft() for _ in range(min(TAKE, len(waiting)))]
            self.lanes[webhook_id]["draining"] -= 1
            if not self.lanes[webhook_id]["draining"]:
                del self.lanes[webhook_id]
                self.lock.notify_all()
            return []

    def _serve(self):
        while True:
            self._drain(self.ready.get())

    def _drain(self, webhook_id):
        with self.app.app_context():
            while taken := self._next(webhook_id):
                try:
                    delivery.send_all(taken)
                except Exception:  # a thread's error has nowhere else to go; the leases bring them back
                    log.exception("webhook %s: sending deliveries %s failed", webhook_id, [t[0] for t in taken])
                    db.session.rollback()
            db.session.remove()

    def wait_idle(self, timeout):
        """Wait until no send is waiting or in flight (tests, benchmarks); True if so."""
        with self.lock:
            return self.lock.wait_for(lambda: not self.lanes, timeout)


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
    """Hand the deliveries still leased to ``token`` to this worker's senders."""
    pool = senders()
    held = db.session.execute(
        select(WebhookDelivery.id, WebhookDelivery.webhook_id)
        .where(WebhookDelivery.id.in_(delivery_ids), WebhookDelivery.lease_token == token,
               WebhookDelivery.status == "pending")).all()
    db.session.remove()
    for delivery_id, webhook_id in held:
        pool.send(webhook_id, delivery_id, token)
    return len(held)


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
