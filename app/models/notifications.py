"""Notifications in users' inboxes, and who watches which issue."""
from ..extensions import db
from .base import BigId

# In the order that picks a change's one notification when it has several reasons.
NOTIFICATION_TYPES = ("assigned", "mentioned", "commented", "status_changed", "updated")


class IssueWatcher(db.Model):
    """A user who watches an issue (``watching``) or asked not to (``watching`` false: the
    row then keeps them from becoming a watcher again by taking part)."""

    __tablename__ = "issue_watchers"

    issue_id = db.Column(db.Integer, db.ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    watching = db.Column(db.Boolean, nullable=False, default=True)


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        db.Index("ix_notifications_user_id", "user_id", "id"),
        db.Index("ix_notifications_unread", "user_id", "id", postgresql_where=db.text("read_at IS NULL"),
                 sqlite_where=db.text("read_at IS NULL")),
    )

    id = db.Column(BigId, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    type = db.Column(db.String(16), nullable=False)
    issue_id = db.Column(db.Integer, db.ForeignKey("issues.id", ondelete="CASCADE"), nullable=False, index=True)
    issue_key = db.Column(db.String(32), nullable=False)
    project = db.Column(db.String(10), nullable=False)
    actor_id = db.Column(db.Integer)
    event_id = db.Column(db.BigInteger, nullable=False)
    at = db.Column(db.DateTime, nullable=False)
    read_at = db.Column(db.DateTime)
    mailed_at = db.Column(db.DateTime)  # sent by e-mail (instant or in a digest)
