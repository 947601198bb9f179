"""Webhooks: create, change, rotate, delete, and their delivery log.

Project webhooks belong to maintainers (admins count as maintainers); admin webhooks
(no project) to admins, for ``backup.*`` and ``alert.*``. Someone who cannot manage a
webhook gets a 404 for it, as for a project they cannot see. The secret is shown in the
answer that creates it and in the one that rotates it, never again.
"""
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select, update

from ..audit import record_audit
from ..auth.permissions import role_in
from ..errors import Problem, conflict, not_found, validation_error
from ..extensions import db
from ..versions import check_version
from ..models import Project, Webhook, WebhookAttempt, WebhookDelivery
from ..models.base import isoformat, utcnow
from ..pagination import Key, paginate
from ..schemas import renderer
from . import fanout
from .addresses import UnsafeUrl, resolve
from .jobs import enqueue_deliveries
from .schemas import AttemptOutput, DeliveryOutput, WebhookOutput, WebhookWithSecret
from .signing import new_secret

MAX_PER_OWNER = 20
ROTATION_OVERLAP = timedelta(hours=24)
ADMIN_DEFAULT_EVENTS = ["backup.*", "alert.*"]


webhook_dict = renderer(WebhookOutput, ("project_key",), project=lambda _webhook, key: key)
webhook_with_secret = renderer(WebhookWithSecret, ("project_key",), project=lambda _webhook, key: key)


def _check_url(url):
    try:
        resolve(url, current_app.config["WEBHOOK_ALLOW_PRIVATE"])
    except UnsafeUrl as refused:
        raise validation_error({"url": [str(refused)]}) from None


def _check_events(patterns, admin):
    """Admin webhooks take ``backup.*`` and ``alert.*`` types only; project ones take the rest."""
    wrong = [p for p in patterns if p != "*" and p.startswith(fanout.ADMIN_EVENT_PREFIXES) != admin]
    if wrong:
        scope = "backup.* and alert.* events only" if admin else "project events, not backup.* or alert.*"
        raise validation_error({"events": [f"This webhook takes {scope}: {', '.join(wrong)}."]})


def create_webhook(project, user, data):
    """Create a webhook of ``project`` (None: an admin webhook)."""
    admin = project is None
    events = data["events"] or (ADMIN_DEFAULT_EVENTS if admin else ["*"])
    _check_events(events, admin)
    _check_url(data["url"])
    owner = Webhook.project_id.is_(None) if admin else Webhook.project_id == project.id
    if db.session.scalar(select(func.count()).select_from(Webhook).where(owner)) >= MAX_PER_OWNER:
        raise conflict(f"There are already {MAX_PER_OWNER} webhooks here; delete one first.")
    webhook = Webhook(project_id=None if admin else project.id, url=data["url"], events=list(dict.fromkeys(events)),
                      active=data["active"], description=data["description"], secret=new_secret(),
                      created_by=user.id)
    db.session.add(webhook)
    db.session.flush()
    record_audit(user.id, "webhook.created", "webhook", webhook.id,
                 {"project": None if admin else project.key, "url": webhook.url, "events": webhook.events})
    db.session.commit()
    return webhook


def list_webhooks(project_id, limit, cursor):
    owner = Webhook.project_id.is_(None) if project_id is None else Webhook.project_id == project_id
    return paginate(select(Webhook).where(owner), [Key(Webhook.id, lambda w: w.id)], limit, cursor)


def load_webhook(webhook_id, user):
    """The webhook and its project's key, if ``user`` may manage it (404 if they cannot see it)."""
    row = db.session.execute(select(Webhook, Project.key).outerjoin(Project, Project.id == Webhook.project_id)
                             .where(Webhook.id == webhook_id)).first()
    if row is None:
        raise not_found("webhook")
    webhook, key = row
    if webhook.project_id is None:
        if not user.is_admin:
            raise not_found("webhook")
    else:
        role = role_in(webhook.project_id, user)
        if role is None:
            raise not_found("webhook")
        if role != "maintainer":
            raise Problem(403, f"This needs the maintainer role in project {key}.")
    return webhook, key


def update_webhook(webhook, user, changes, expected_version):
    check_version(webhook.version, expected_version)
    if "events" in changes:
        _check_events(changes["events"], webhook.project_id is None)
        changes["events"] = list(dict.fromkeys(changes["events"]))
    if "url" in changes and changes["url"] != webhook.url:
        _check_url(changes["url"])
    diff = {f: v for f, v in changes.items() if getattr(webhook, f) != v}
    if diff:
        for field, value in diff.items():
            setattr(webhook, field, value)
        if diff.get("active"):
            webhook.disabled_reason = None
        webhook.version += 1
        record_audit(user.id, "webhook.updated", "webhook", webhook.id, {"changes": sorted(diff)})
    db.session.commit()
    return webhook


def delete_webhook(webhook, user):
    record_audit(user.id, "webhook.deleted", "webhook", webhook.id, {"url": webhook.url})
    db.session.delete(webhook)
    db.session.commit()


def rotate_secret(webhook, user):
    """A new secret; the old one keeps signing beside it for 24 hours."""
    webhook.previous_secret = webhook.secret
    webhook.previous_secret_until = utcnow() + ROTATION_OVERLAP
    webhook.secret = new_secret()
    webhook.version += 1
    record_audit(user.id, "webhook.secret_rotated", "webhook", webhook.id)
    db.session.commit()
    return webhook


def ping(webhook):
    """Queue a ``webhook.ping`` delivery; return it."""
    if not webhook.active:
        raise conflict("The webhook is not active; activate it first.")
    db.session.commit()  # end the read: the delivery is written on a connection of its own
    return db.session.get(WebhookDelivery, fanout.deliver_ping(webhook))


delivery_dict = renderer(DeliveryOutput, next_attempt_at=lambda d: isoformat(d.next_attempt_at)
                         if d.status == "pending" else None)
_attempt_dict = renderer(AttemptOutput, ("body",), request_body=lambda _attempt, body: body)


def delivery_detail(delivery):
    attempts = db.session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id)
                                  .order_by(WebhookAttempt.number, WebhookAttempt.id)).all()
    return {**delivery_dict(delivery), "attempt_log": [_attempt_dict(a, delivery.body) for a in attempts]}


def list_deliveries(webhook_id, limit, cursor):
    """A webhook's deliveries, newest first."""
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    return paginate(query, [Key(WebhookDelivery.id, lambda d: d.id, descending=True)], limit, cursor)


def load_delivery(delivery_id, user):
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise not_found("delivery")
    try:
        load_webhook(delivery.webhook_id, user)
    except Problem as refused:
        raise not_found("delivery") if refused.status == 404 else refused from None
    return delivery


def redeliver(delivery, webhook):
    """Send a delivery again now, under the same id (a receiver that saw it can tell)."""
    if not webhook.active:
        raise conflict("The webhook is not active; activate it first.")
    now = utcnow()
    token = secrets.token_hex(16)
    lease_until = now + timedelta(seconds=current_app.config["WEBHOOK_LEASE_SECONDS"])
    taken = db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id,
               (WebhookDelivery.lease_until.is_(None)) | (WebhookDelivery.lease_until < now))
        .values(status="pending", next_attempt_at=now, lease_token=token, lease_until=lease_until)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if not taken:
        raise conflict("The delivery is being sent right now.")
    enqueue_deliveries([delivery.id], token)
    db.session.refresh(delivery)
    return delivery
