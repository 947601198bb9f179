"""The inbox (list, unread count, mark read) and watching issues."""
from sqlalchemy import func, select, update

from ..auth.permissions import require_project_role
from ..extensions import db
from ..models import IssueWatcher, Notification
from ..models.base import utcnow
from ..pagination import Key, paginate


def list_notifications(user_id, unread, limit, cursor):
    """A page of the user's notifications, newest first (only unread ones if ``unread``)."""
    query = select(Notification).where(Notification.user_id == user_id)
    if unread:
        query = query.where(Notification.read_at.is_(None))
    return paginate(query, [Key(Notification.id, lambda n: n.id, True)], limit, cursor)


def unread_count(user_id):
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)))


def mark_read(user_id, ids=None):
    """Mark the user's notifications ``ids`` (all when None) read; others' ids change nothing."""
    query = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if ids is not None:
        query = query.where(Notification.id.in_(ids))
    db.session.execute(query.values(read_at=utcnow()))
    db.session.commit()


def is_watching(issue_id, user_id):
    return bool(db.session.scalar(select(IssueWatcher.watching).where(
        IssueWatcher.issue_id == issue_id, IssueWatcher.user_id == user_id)))


def set_watching(issue, user, watching):
    """Watch or stop watching an issue (readers of its project); an unwatch outlasts taking part."""
    require_project_role(issue.project, user, "viewer")
    row = db.session.get(IssueWatcher, (issue.id, user.id))
    if row is None:
        db.session.add(IssueWatcher(issue_id=issue.id, user_id=user.id, watching=watching))
    else:
        row.watching = watching
    db.session.commit()
