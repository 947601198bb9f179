"""After commit: turn the change feed's committed events into notifications.

Registered in ``create_app._register_after_commit`` beside the realtime broadcast, so
every change that commits events (REST, batches in workers, GraphQL, jobs) notifies the
same way. For all the events of one commit it runs one transaction on a connection of
its own (the session's has gone back to the pool): a few reads (handles, who may read
the projects, the issues' watchers), then the new watchers and all the notifications
each in one write. A batch of 10,000 creates assigned to one user is one COPY (or one
``executemany``) of 10,000 rows, and one user's many notifications reach their sockets
bundled (``delivery``).

One notification per user per change, never to the actor, only to active users who may
read the project (members and admins): a mention of anyone else is plain text, and no
one learns from it whether the handle exists.
"""
import logging
from datetime import datetime

from sqlalchemy import insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from ..bulk import can_copy, write_rows
from ..extensions import db
from ..models import Issue, IssueWatcher, Membership, Notification, Project, User
from . import delivery
from .reasons import pick, reasons

log = logging.getLogger(__name__)
IN_CHUNK = 1000  # ids per IN (...) list: SQLite's bound-parameter limit
ATTEMPTS = 2  # an issue deleted between the read and the write: read again once
COLUMNS = ("id", "user_id", "type", "issue_id", "issue_key", "project", "actor_id", "event_id", "at")


def notify(events):
    """Consumer of committed events: make, store and deliver their notifications."""
    changes = [r for r in map(reasons, events) if r is not None]
    if not changes:
        return
    try:
        made = _store_with_retry(changes)
    except Exception:  # the change is committed whatever fails here: the caller gets its answer
        log.exception("notifications of %s events failed", len(changes))
        return
    delivery.deliver(made)


def _store_with_retry(changes):
    for attempt in range(ATTEMPTS):
        try:
            with db.engine.begin() as connection:
                return _store(connection, changes)
        except IntegrityError:
            if attempt == ATTEMPTS - 1:
                raise


def _chunks(values):
    values = list(values)
    for i in range(0, len(values), IN_CHUNK):
        yield values[i:i + IN_CHUNK]


def _store(connection, changes):
    """Write the watchers and notifications of ``changes``; return ``(rows, users)``."""
    issues = _existing_issues(connection, {c.issue_id for c in changes})
    changes = [c for c in changes if c.issue_id in issues]
    project_ids = dict(connection.execute(select(Project.key, Project.id).where(
        Project.key.in_({c.project for c in changes}))).all())
    readers, admins, users = _readers(connection, project_ids.values())
    handles = _handles(connection, {h for c in changes for h in c.handles})
    watchers = _watchers(connection, {c.issue_id for c in changes if not c.created})
    new_watchers, rows = {}, []
    for change in changes:
        project_id = project_ids.get(change.project)
        if project_id is None:
            continue

        def may_read(user_id):
            return user_id in admins or user_id in readers.get(project_id, ())

        issue_watchers = watchers.setdefault(change.issue_id, {})
        told = {}
        if change.assigned is not None and may_read(change.assigned):
            told[change.assigned] = "assigned"
        for handle in change.handles:
            user_id = handles.get(handle)
            if user_id is None or not may_read(user_id):
                continue
            if change.new_mentions_only and user_id in issue_watchers:
                continue
            told[user_id] = pick(told.get(user_id), "mentioned")
            change.joins.add(user_id)
        if change.watchers_told:
            for user_id, watching in issue_watchers.items():
                if watching and may_read(user_id):
                    told[user_id] = pick(told.get(user_id), change.watchers_told)
        for user_id in change.joins:
            if user_id not in issue_watchers and may_read(user_id):
                issue_watchers[user_id] = True
                new_watchers[(change.issue_id, user_id)] = True
        told.pop(change.actor_id, None)
        key = change.issue_key or issues[change.issue_id]
        at = datetime.fromisoformat(change.at.rstrip("Z"))
        rows.extend({"user_id": user_id, "type": kind, "issue_id": change.issue_id, "issue_key": key,
                     "project": change.project, "actor_id": change.actor_id, "event_id": change.event_id, "at": at}
                    for user_id, kind in told.items())
    _add_watchers(connection, list(new_watchers))
    _insert_notifications(connection, rows)
    return rows, {row["user_id"]: users[row["user_id"]] for row in rows}


def _existing_issues(connection, issue_ids):
    """``{issue id: key}`` of the issues still there."""
    found = {}
    for chunk in _chunks(issue_ids):
        found.update((issue_id, f"{key}-{number}") for issue_id, number, key in connection.execute(
            select(Issue.id, Issue.number, Project.key).join(Project, Project.id == Issue.project_id)
            .where(Issue.id.in_(chunk))))
    return found


def _readers(connection, project_ids):
    """``({project id: {user id}}, {admin ids}, {user id: e-mail choice})`` of active users."""
    readers, users = {}, {}
    rows = connection.execute(select(Membership.project_id, User.id, User.email_notifications)
                              .join(User, User.id == Membership.user_id)
                              .where(Membership.project_id.in_(list(project_ids)), User.active.is_(True)))
    for project_id, user_id, choice in rows:
        readers.setdefault(project_id, set()).add(user_id)
        users[user_id] = choice
    admins = dict(connection.execute(select(User.id, User.email_notifications)
                                     .where(User.is_admin.is_(True), User.active.is_(True))).all())
    users.update(admins)
    return readers, set(admins), users


def _handles(connection, handles):
    if not handles:
        return {}
    return dict(connection.execute(select(User.handle, User.id).where(User.handle.in_(list(handles)))).all())


def _watchers(connection, issue_ids):
    """``{issue id: {user id: watching}}`` as stored."""
    found = {}
    for chunk in _chunks(issue_ids):
        for issue_id, user_id, watching in connection.execute(
                select(IssueWatcher.issue_id, IssueWatcher.user_id, IssueWatcher.watching)
                .where(IssueWatcher.issue_id.in_(chunk))):
            found.setdefault(issue_id, {})[user_id] = watching
    return found


def _add_watchers(connection, pairs):
    """Make these ``(issue id, user id)`` watchers, unless a row (a watch, an unwatch) exists."""
    if not pairs:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    rows = [{"issue_id": issue_id, "user_id": user_id, "watching": True} for issue_id, user_id in pairs]
    connection.execute(dialect.insert(IssueWatcher.__table__).on_conflict_do_nothing(), rows)


def _insert_notifications(connection, rows):
    """Insert ``rows`` in one go, giving each its ``id``: COPY with psycopg 3, else one executemany."""
    if not rows:
        return
    table = Notification.__table__
    if connection.dialect.name == "postgresql":
        ids = connection.execute(text(
            "SELECT nextval(pg_get_serial_sequence('notifications', 'id')) FROM generate_series(1, :n)"),
            {"n": len(rows)}).scalars().all()
    else:  # SQLite: the transaction holds the write lock from BEGIN IMMEDIATE on
        last = connection.execute(text("SELECT coalesce(max(id), 0) FROM notifications")).scalar()
        ids = range(last + 1, last + 1 + len(rows))
    for row_id, row in zip(ids, rows, strict=True):
        row["id"] = row_id
    if can_copy(connection):
        write_rows(connection, table, COLUMNS, ([row[name] for name in COLUMNS] for row in rows))
    else:
        connection.execute(insert(table), rows)
