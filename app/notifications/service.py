"""The inbox (list, unread count, mark read) and watching issues."""
from sqlalchemy import func, or_, select, update

from ..auth.permissions import require_project_role
from ..extensions import db
from ..issues.service import escape_like
from ..models import IssueWatcher, Membership, Notification, User
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


def mentionable(project_id, prefix, limit):
    """Active members of the project whose handle or name starts with ``prefix``, by handle."""
    pattern = f"{escape_like(prefix.lower())}%"
    rows = db.session.execute(
        select(User.id, User.name, User.handle).join(Membership, Membership.user_id == User.id)
        .where(Membership.project_id == project_id, User.active.is_(True),
               or_(User.handle.like(pattern, escape="\\"), func.lower(User.name).like(pattern, escape="\\")))
        .order_by(User.handle).limit(limit))
    return [{"user_id": user_id, "name": name, "handle": handle} for user_id, name, handle in rows]


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
