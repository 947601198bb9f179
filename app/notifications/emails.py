"""Notifications by e-mail: instant mails and the digest, both run by RQ.

``instant`` users get a mail per notification from ``send_instant`` (queued by
``delivery`` after each commit); when one commit made more than ``INSTANT_MAX`` for one
user (a batch), they get one mail listing them rather than a flood. ``digest`` users
(the default) get one mail every ``NOTIFICATION_DIGEST_MINUTES`` (the scheduled
``send_digests``) listing their unread notifications not mailed before. Nothing goes to
deactivated users, to those who chose ``off``, or about a project the user can no longer
read; what is mailed is marked ``mailed_at``
after the SMTP server took it, so a failed run is retried by the next one.

Every mail carries ``List-Unsubscribe`` with a one-click link (RFC 8058) signed for its
user (``unsubscribe.py``).
"""
from collections import defaultdict

from flask import current_app
from sqlalchemy import exists, or_, select, update

from .. import mail
from ..extensions import db
from ..models import Issue, Membership, Notification, User
from ..models.base import utcnow
from ..worker import add_schedule, in_app_context
from .unsubscribe import unsubscribe_url

INSTANT_MAX = 10
WHAT = {"assigned": "assigned you to", "mentioned": "mentioned you in", "commented": "commented on",
        "status_changed": "changed the status of", "updated": "updated"}


@in_app_context
def send_instant(notification_ids):
    """Mail these notifications to their users who chose ``instant`` (not yet mailed)."""
    _mail(Notification.id.in_(notification_ids), "instant", digest=False)


@in_app_context
def send_digests():
    """Mail each ``digest`` user their unread notifications not mailed before, in one message."""
    _mail(Notification.read_at.is_(None), "digest", digest=True)


def register_schedule(app):
    """Send the digests every ``NOTIFICATION_DIGEST_MINUTES``."""
    add_schedule(app, send_digests, interval=app.config["NOTIFICATION_DIGEST_MINUTES"] * 60, name="send_digests")


def _mail(condition, choice, *, digest):
    if not current_app.config["SMTP_URL"]:
        return
    still_reads = or_(User.is_admin.is_(True), exists().where(
        Membership.user_id == User.id, Membership.project_id == Issue.project_id))
    rows = db.session.execute(
        select(Notification, User, Issue.title).join(User, User.id == Notification.user_id)
        .join(Issue, Issue.id == Notification.issue_id)
        .where(condition, Notification.mailed_at.is_(None), User.active.is_(True),
               User.email_notifications == choice, still_reads)
        .order_by(Notification.id)).all()
    db.session.rollback()  # no transaction held open while talking to the SMTP server
    by_user = defaultdict(list)
    for notification, user, title in rows:
        by_user[user].append((notification, title))
    actors = _names({n.actor_id for n, _user, _title in rows})
    for user, items in by_user.items():
        if digest or len(items) > INSTANT_MAX:
            messages = [_listing(user, items, actors)]
        else:
            messages = [_single(user, notification, title, actors) for notification, title in items]
        mail.send(messages)
        db.session.execute(update(Notification).where(
            Notification.id.in_([n.id for n, _title in items]), Notification.mailed_at.is_(None))
            .values(mailed_at=utcnow()))
        db.session.commit()


def _names(user_ids):
    user_ids = [user_id for user_id in user_ids if user_id is not None]
    if not user_ids:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(user_ids))).all())


def _line(notification, title, actors):
    who = actors.get(notification.actor_id, "Someone")
    return f"{who} {WHAT[notification.type]} {notification.issue_key}: {title}\n  {_issue_url(notification)}"


def _issue_url(notification):
    return f"{current_app.config['PUBLIC_URL']}/issues/{notification.issue_key}"


def _single(user, notification, title, actors):
    body = f"{_line(notification, title, actors)}\n\n{_footer(user)}"
    return mail.message(user.email, f"[{notification.issue_key}] {title}", body, _headers(user))


def _listing(user, items, actors):
    lines = "\n".join(_line(notification, title, actors) for notification, title in items)
    inbox = f"{current_app.config['PUBLIC_URL']}/inbox"
    body = f"{lines}\n\nYour inbox: {inbox}\n\n{_footer(user)}"
    subject = f"{len(items)} new notification{'s' if len(items) != 1 else ''} in Beacon"
    return mail.message(user.email, subject, body, _headers(user))


def _headers(user):
    return {"List-Unsubscribe": f"<{unsubscribe_url(user.id)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def _footer(user):
    return f"Stop these e-mails: {unsubscribe_url(user.id)}"
