"""One attempt of a delivery, and what its answer decides.

Any 2xx is success. A 410 disables the webhook at once. Anything else (another status, a
refused address, a network error, the 10 s timeout) is retried after the next delay of
``WEBHOOK_RETRY_SCHEDULE`` (+-10% jitter), or after ``Retry-After`` on a 429 or 503;
when the schedule runs out the delivery is ``failed``. Every attempt is logged with its
request headers and the first 4 KB of the answer. The outcome is written only while the
sender still holds the delivery's lease, so a send that outlived its lease (its worker
stalled) never overwrites the attempt that took over.
"""
import random
from datetime import timedelta
from email.utils import parsedate_to_datetime

from flask import current_app
from sqlalchemy import update

from ..extensions import db
from ..models import Webhook, WebhookAttempt, WebhookDelivery
from ..models.base import utcnow
from . import posting, signing

MAX_RETRY_AFTER = 24 * 3600
GONE = "The receiver answered 410 Gone: the webhook was disabled."


def attempt(delivery_id, token):
    """Send a delivery this sender holds (``token``) once, and record what happened."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.lease_token != token or delivery.status != "pending":
        return None
    webhook = db.session.get(Webhook, delivery.webhook_id)
    if not webhook.active:
        return _finish(delivery, token, status="failed", error="The webhook is disabled.")
    db.session.commit()  # no transaction (on SQLite: no write lock) held across the POST
    config = current_app.config
    headers = signing.headers(delivery.id, delivery.body, signing.signing_secrets(webhook))
    outcome = posting.post(webhook.url, delivery.body, headers, timeout=config["WEBHOOK_TIMEOUT_SECONDS"],
                           allow_private=config["WEBHOOK_ALLOW_PRIVATE"])
    number = delivery.attempts + 1
    db.session.add(WebhookAttempt(delivery_id=delivery.id, number=number, url=webhook.url, request_headers=headers,
                                  response_status=outcome.status, response_headers=outcome.headers,
                                  response_body=outcome.body, error=outcome.error, duration_ms=outcome.duration_ms))
    changes = {"attempts": number, "response_status": outcome.status, "error": outcome.error,
               "duration_ms": outcome.duration_ms}
    if outcome.status is not None and 200 <= outcome.status < 300:
        return _finish(delivery, token, status="succeeded", **changes)
    if outcome.status == 410:
        _disable(webhook, GONE)
        return _finish(delivery, token, status="failed", **{**changes, "error": GONE})
    if outcome.error is None:
        changes["error"] = f"The receiver answered {outcome.status}."
    delay = retry_delay(number, config["WEBHOOK_RETRY_SCHEDULE"], outcome)
    if delay is None:
        return _finish(delivery, token, status="failed", **changes)
    return _finish(delivery, token, status="pending", next_attempt_at=utcnow() + timedelta(seconds=delay), **changes)


def retry_delay(attempts, schedule, outcome):
    """Seconds until the next attempt after ``attempts`` failed ones, or None: no more."""
    if attempts > len(schedule):
        return None
    if outcome.status in (429, 503):
        asked = retry_after(outcome.headers or {})
        if asked is not None:
            return asked
    return schedule[attempts - 1] * random.uniform(0.9, 1.1)


def retry_after(headers):
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), capped at a day; None if absent or unreadable."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(int(value[:9]), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    seconds = (when.replace(tzinfo=None) - when.utcoffset() - utcnow()).total_seconds()
    return min(max(seconds, 0), MAX_RETRY_AFTER)


def _disable(webhook, reason):
    webhook.active = False
    webhook.disabled_reason = reason
    webhook.version += 1


def _finish(delivery, token, *, status, next_attempt_at=None, **changes):
    """Write the outcome while the lease is still ours, ending it; commit."""
    written = db.session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id == delivery.id, WebhookDelivery.lease_token == token)
        .values(status=status, next_attempt_at=next_attempt_at, lease_until=None, lease_token=None, **changes)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return status if written else None
