"""Leaderboards and who is around: resolvers, commenters, reporters; online users."""
from datetime import timedelta

from sqlalchemy import func, select

from ..extensions import db
from ..models import Comment, Event, Issue, IssueStatusChange, User
from ..realtime import presence
from .scope import in_scope


def leaderboard(scope, metric, limit):
    if metric == "resolved":
        actor, where = IssueStatusChange.actor_id, [IssueStatusChange.to_status == "resolved",
                                                    IssueStatusChange.at >= scope.start,
                                                    in_scope(IssueStatusChange.project_id, scope)]
    elif metric == "comments":
        actor, where = Comment.author_id, [Comment.created_at >= scope.start, in_scope(Comment.project_id, scope)]
    else:
        actor, where = Issue.reporter_id, [Issue.created_at >= scope.start, in_scope(Issue.project_id, scope)]
    counts = select(actor.label("user_id"), func.count().label("n")).where(*where).group_by(actor).subquery()
    rows = db.session.execute(
        select(User.id, User.name, counts.c.n).join(counts, counts.c.user_id == User.id)
        .order_by(counts.c.n.desc(), User.id).limit(limit)).all()
    return {"metric": metric, "items": [{"user_id": i, "name": name, "count": n} for i, name, n in rows]}


def recent_events(scope, minutes=5):
    since = scope.now - timedelta(minutes=minutes)
    return db.session.scalar(select(func.count(Event.id)).where(in_scope(Event.project_id, scope), Event.at >= since))


def online(scope):
    """Users and connections present in the scope's project rooms, from the real-time presence."""
    return presence.online_counts(scope.project_ids)
