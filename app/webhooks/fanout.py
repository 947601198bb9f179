"""After commit: each committed event becomes one delivery per webhook that wants it.

``create_app`` registers ``deliver_events`` as a consumer of committed events
(``after_commit``): a rolled-back change has no events there, so it is never delivered.
The work here is what a REST write pays, so it stays small: one query for the projects'
active webhooks, one INSERT of the deliveries, one job on the queue. Sending happens in
the worker (``jobs.deliver_job``). Backup and alert records reach admin webhooks through
``deliver_admin_event``, called by their services once their change is committed.
"""
import logging
import secrets
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import insert, select
from sqlalchemy.exc import SQLAlchemyError

from .. import fastjson
from ..extensions import db
from ..models import Project, Webhook, WebhookDelivery
from ..models.base import isoformat, utcnow
from .jobs import enqueue_deliveries

log = logging.getLogger(__name__)
ADMIN_EVENT_PREFIXES = ("backup.", "alert.")


def matches(patterns, event_type):
    """True when one of ``patterns`` (``"*"``, ``"issue.*"`` or an exact type) names the type."""
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def deliver_events(payloads):
    """The after-commit consumer: queue deliveries of committed project events."""
    keys = {event["project"] for event in payloads}
    query = (select(Webhook.id, Webhook.events, Project.key).join(Project, Project.id == Webhook.project_id)
             .where(Project.key.in_(keys), Webhook.active.is_(True)))
    try:
        with db.engine.begin() as connection:  # not the session: its transaction is ending
            rows = [_row(hook_id, event["type"], event["id"], fastjson.dumps(event))
                    for hook_id, patterns, key in connection.execute(query)
                    for event in payloads if event["project"] == key and matches(patterns, event["type"])]
            queued = _insert(connection, rows)
        _enqueue(queued)
    except (SQLAlchemyError, RedisError):
        # The change is committed whatever fails here; the writer must not see an error.
        log.exception("could not queue the webhook deliveries of %s committed events", len(payloads))


def deliver_admin_event(event_type, data):
    """Queue deliveries of a backup or alert record to the admin webhooks that want it."""
    body = fastjson.dumps({"type": event_type, "at": isoformat(utcnow()), "data": data})
    query = select(Webhook.id, Webhook.events).where(Webhook.project_id.is_(None), Webhook.active.is_(True))
    try:
        with db.engine.begin() as connection:
            queued = _insert(connection, [_row(hook_id, event_type, None, body)
                                          for hook_id, patterns in connection.execute(query)
                                          if matches(patterns, event_type)])
        _enqueue(queued)
    except (SQLAlchemyError, RedisError):  # the record is committed; its job must not fail for this
        log.exception("could not queue the webhook deliveries of %s", event_type)


def deliver_ping(webhook):
    """Queue a ``webhook.ping`` to one webhook (whatever its filter); return the delivery id."""
    body = fastjson.dumps({"type": "webhook.ping", "at": isoformat(utcnow()),
                           "data": {"webhook_id": webhook.id, "url": webhook.url}})
    return queue_deliveries([_row(webhook.id, "webhook.ping", None, body)])[0]


def _row(webhook_id, event_type, event_id, body):
    return {"webhook_id": webhook_id, "event_type": event_type, "event_id": event_id, "body": body}


def queue_deliveries(rows):
    """Insert deliveries and queue their job; return their ids."""
    with db.engine.begin() as connection:
        queued = _insert(connection, rows)
    _enqueue(queued)
    return queued[0] if queued else []


def _insert(connection, rows):
    """Insert deliveries due now, leased to the job about to be queued for them; return
    ``(ids, token)``, or None when there are none."""
    if not rows:
        return None
    if connection.dialect.name == "postgresql":
        # No wait for the WAL flush (7-9 ms of a REST create on a busy machine). What a
        # database crash could lose is what a crash between the change's commit and this
        # step loses anyway: deliveries are queued after the change, never with it.
        connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
    now = utcnow()
    token = secrets.token_hex(16)
    lease_until = now + timedelta(seconds=current_app.config["WEBHOOK_LEASE_SECONDS"])
    for row in rows:
        row.update(status="pending", attempts=0, next_attempt_at=now, created_at=now,
                   lease_token=token, lease_until=lease_until)
    ids = list(connection.execute(insert(WebhookDelivery.__table__).returning(WebhookDelivery.id), rows).scalars())
    return ids, token


def _enqueue(queued):
    if queued:
        enqueue_deliveries(*queued)
