"""Deliver stored notifications: to the user's sockets at once, and to e-mail by job.

Sockets: every socket of a user is in its personal room ``user:{id}`` on whichever
server process holds it (``realtime/namespace.py``), and ``broadcast.emit`` goes through
the message queue, so a notification made in a worker reaches a browser on any server
process. One notification goes as ``notification``; several made by one commit for one
user go together as ``notifications.bulk`` ``{"notifications": [...]}`` (500 a message),
newest last, as ``events.bulk`` does for events.

E-mail: users who chose ``instant`` get theirs from one RQ job per commit
(``emails.send_instant``); ``digest`` users from the scheduled digest.
"""
import logging
from collections import defaultdict
from types import SimpleNamespace

from flask import current_app
from redis.exceptions import RedisError

from ..schemas import renderer
from ..realtime import broadcast
from ..worker import enqueue_job
from . import emails
from .schemas import NotificationOutput

log = logging.getLogger(__name__)
BULK_SIZE = 500


notification_dict = renderer(NotificationOutput)  # a Notification, or anything with its columns


def deliver(made):
    """Send ``(rows, {user id: e-mail choice})`` from ``fanout`` to sockets and mail."""
    rows, users = made
    if not rows:
        return
    by_user = defaultdict(list)
    for row in rows:
        by_user[row["user_id"]].append(notification_dict(SimpleNamespace(**row, read_at=None)))
    for user_id, items in by_user.items():
        room = f"user:{user_id}"
        if len(items) == 1:
            broadcast.emit("notification", items[0], room)
        else:
            for i in range(0, len(items), BULK_SIZE):
                broadcast.emit("notifications.bulk", {"notifications": items[i:i + BULK_SIZE]}, room)
    instant = [row["id"] for row in rows if users.get(row["user_id"]) == "instant"]
    if instant and current_app.config["SMTP_URL"]:
        try:
            enqueue_job(emails.send_instant, instant, job_type="notifications.instant")
        except (RedisError, OSError):  # the digest's next run mails what this one could not
            log.exception("queueing the e-mail of %s notifications failed", len(instant))
