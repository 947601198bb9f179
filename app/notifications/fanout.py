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

from sqlalchemy import insert, null, select, text, union_all
from sqlalchemy.exc import IntegrityError

from ..bulk import insert_rows
from ..extensions import db
from ..models import Issue, IssueWatcher, Membership, Notification, Project, User
from . import delivery
from .reasons import pick, reasons

log = logging.getLogger(__name__)
IN_CHUNK = 1000  # ids per IN (...) list: SQLite's bound-parameter limit
ATTEMPTS = 2  # an issue deleted between the read and the write: read again once
RETURNING_MAX = 50  # more notifications than this take their ids first and go in one write


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
    # A COPY's error comes from the driver as it is, not wrapped by SQLAlchemy.
    conflicts = (IntegrityError, db.engine.dialect.dbapi.IntegrityError)
    for attempt in range(ATTEMPTS):
        try:
            with db.engine.begin() as connection:
                return _store(connection, changes, check_issues=attempt > 0)
        except conflicts:
            if attempt == ATTEMPTS - 1:
                raise


def _chunks(values):
    values = list(values)
    for i in range(0, len(values), IN_CHUNK):
        yield values[i:i + IN_CHUNK]


def _store(connection, changes, *, check_issues):
    """Write the watchers and notifications of ``changes``; return ``(rows, users)``.

    The events name issues that existed when they committed, and an issue they created has
    no watchers yet; ``check_issues`` (the retry after a failed write: an issue deleted, a
    watcher added meanwhile) reads which issues remain and all their watchers. Otherwise
    only comments' issues are read, for their keys: a REST create costs three statements
    and a commit."""
    wanted = {c.issue_id for c in changes if check_issues or c.issue_key is None}
    keys = _issue_keys(connection, wanted)
    changes = [c for c in changes if c.issue_id in keys or (not check_issues and c.issue_key is not None)]
    readers, users = _readers(connection, {c.project for c in changes})
    admins = readers.pop(None, set())
    readers = {key: members | admins for key, members in readers.items()}
    handles = _handles(connection, {h for c in changes for h in c.handles})
    watchers = _watchers(connection, {c.issue_id for c in changes if check_issues or not c.created})
    new_watchers, rows = {}, []
    for change in changes:
        project_readers = readers.get(change.project, admins)
        issue_watchers = watchers.setdefault(change.issue_id, {})
        told = {}
        if change.assigned is not None and change.assigned in project_readers:
            told[change.assigned] = "assigned"
        for handle in change.handles:
            user_id = handles.get(handle)
            if user_id not in project_readers or (change.new_mentions_only and user_id in issue_watchers):
                continue
            told[user_id] = pick(told.get(user_id), "mentioned")
            change.joins.add(user_id)
        if change.watchers_told:
            for user_id, watching in issue_watchers.items():
                if watching and user_id in project_readers:
                    told[user_id] = pick(told.get(user_id), change.watchers_told)
        for user_id in change.joins:
            if user_id not in issue_watchers and user_id in project_readers:
                issue_watchers[user_id] = True
                new_watchers[(change.issue_id, user_id)] = True
        told.pop(change.actor_id, None)
        key = change.issue_key or keys[change.issue_id]
        at = datetime.fromisoformat(change.at.rstrip("Z"))
        rows.extend({"user_id": user_id, "type": kind, "issue_id": change.issue_id, "issue_key": key,
                     "project": change.project, "actor_id": change.actor_id, "event_id": change.event_id, "at": at}
                    for user_id, kind in told.items())
    _add_watchers(connection, list(new_watchers))
    _insert_notifications(connection, rows)
    return rows, {row["user_id"]: users[row["user_id"]] for row in rows}


def _issue_keys(connection, issue_ids):
    """``{issue id: key}`` of these issues that are still there."""
    found = {}
    for chunk in _chunks(issue_ids):
        found.update((issue_id, f"{key}-{number}") for issue_id, number, key in connection.execute(
            select(Issue.id, Issue.number, Project.key).join(Project, Project.id == Issue.project_id)
            .where(Issue.id.in_(chunk))))
    return found


def _readers(connection, project_keys):
    """Who may read these projects, in one query: ``({project key: {user id}}, {user id:
    e-mail choice})`` of active users; admins, who read every project, under the key None."""
    members = (select(Project.key, User.id, User.email_notifications)
               .join(Membership, Membership.project_id == Project.id).join(User, User.id == Membership.user_id)
               .where(Project.key.in_(list(project_keys)), User.active.is_(True)))
    admins = select(null().label("key"), User.id, User.email_notifications).where(
        User.is_admin.is_(True), User.active.is_(True))
    readers, users = {}, {}
    for key, user_id, choice in connection.execute(union_all(members, admins)):
        readers.setdefault(key, set()).add(user_id)
        users[user_id] = choice
    return readers, users


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
    """Make these ``(issue id, user id)`` watchers: pairs with no row yet (``_store`` read the
    rows of every issue but those just created, which have none). A row that appeared
    meanwhile fails the write, and the retry reads them all. A plain write, in one go
    (``bulk.insert_rows``): ``ON CONFLICT DO NOTHING`` went one statement per row with
    psycopg, 0.5 s of the 0.8 s fan-out of 2,000 creates."""
    insert_rows(IssueWatcher.__table__, [{"issue_id": i, "user_id": u, "watching": True} for i, u in pairs],
                connection)


def _insert_notifications(connection, rows):
    """Insert ``rows``, giving each its ``id``: a few with ``RETURNING``, many with ids taken
    first and the rows in one go (COPY with psycopg 3, the driver's ``executemany`` on
    SQLite: Core's own built each row's parameters, 0.5 s of 10,000)."""
    if not rows:
        return
    table = Notification.__table__
    if len(rows) <= RETURNING_MAX:  # one statement, ids back in the same round trip
        ids = connection.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                                 rows).scalars().all()
        for row_id, row in zip(ids, rows, strict=True):
            row["id"] = row_id
        return
    if connection.dialect.name == "postgresql":
        ids = connection.execute(text(
            "SELECT nextval(pg_get_serial_sequence('notifications', 'id')) FROM generate_series(1, :n)"),
            {"n": len(rows)}).scalars().all()
    else:  # SQLite: the transaction holds the write lock from BEGIN IMMEDIATE on
        last = connection.execute(text("SELECT coalesce(max(id), 0) FROM notifications")).scalar()
        ids = range(last + 1, last + 1 + len(rows))
    for row_id, row in zip(ids, rows, strict=True):
        row["id"] = row_id
    insert_rows(table, rows, connection)
