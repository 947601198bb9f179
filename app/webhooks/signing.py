"""Secrets and signatures by Standard Webhooks 1.0, with its reference implementation.

A secret is ``whsec_`` and the base64 of 24 random bytes. Each send is signed with the
current secret, and for 24 hours after a rotation with the previous one too: the
``webhook-signature`` header then holds both (``v1,<a> v1,<b>``), so a receiver still on
the old secret and one already on the new both accept it.
"""
import base64
import secrets
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook as StandardWebhook

from ..models.base import utcnow

SECRET_PREFIX = "whsec_"
USER_AGENT = "Beacon-Webhooks/1.0"


def new_secret():
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signing_secrets(webhook, now=None):
    """The secrets that sign a send now: the current one, and the previous one while its
    overlap lasts."""
    now = now or utcnow()
    found = [webhook.secret]
    if webhook.previous_secret and webhook.previous_secret_until and webhook.previous_secret_until > now:
        found.append(webhook.previous_secret)
    return found


def headers(delivery_id, body, secret_list, at=None):
    """The request headers of one send of ``body`` (text) under ``delivery_id``."""
    at = at or datetime.now(timezone.utc)
    message_id = str(delivery_id)
    signatures = " ".join(StandardWebhook(secret).sign(message_id, at, body) for secret in secret_list)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }
