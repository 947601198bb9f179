"""The one place where a change becomes an event, and the feed that reads them back
(``list_events``).

``record_event`` writes the event in the caller's transaction with the next ``seq`` of
its project. The events wait on the session until it commits; then ``after_commit`` hands
them to its consumers (the realtime broadcast, ...). A rollback drops them, so nothing is
announced that did not happen; so does the rollback of a ``savepoint()`` block, for the
events of the block.
"""
from contextlib import contextmanager

from sqlalchemy import func, select, update

from .. import after_commit
from ..bulk import inserting_with_ids
from ..extensions import db
from ..models import Event, Project
from ..models.base import isoformat, utcnow
from ..pagination import Key, paginate

def reserve_seqs(project_id, count=1, issue_numbers=0):
    """Take ``count`` consecutive seqs of a project, and ``issue_numbers`` issue numbers in
    the same statement (creating issues takes both); return the first of each.

    The UPDATE locks the project row until commit, so concurrent writers queue up and a
    rolled-back transaction gives its numbers back.
    """
    last_seq, last_number = db.session.execute(
        update(Project)
        .where(Project.id == project_id)
        .values(last_event_seq=Project.last_event_seq + count,
                last_issue_number=Project.last_issue_number + issue_numbers)
        .returning(Project.last_event_seq, Project.last_issue_number)
    ).one()
    return last_seq - count + 1, last_number - issue_numbers + 1


def event_payload(row_id, seq, project_key, type_, actor_id, at, data):
    return {
        "id": row_id, "seq": seq, "project": project_key, "type": type_,
        "actor_id": actor_id, "at": isoformat(at), "data": data,
    }


def serialize_event(event, project_key):
    return event_payload(event.id, event.seq, project_key, event.type, event.actor_id, event.at, event.data)


def list_events(project_id, project_key, after_seq, limit, cursor):
    """A page of a project's change feed: its events after ``after_seq``, oldest first."""
    page = paginate(_feed(project_id, after_seq), [Key(Event.seq, lambda e: e.seq)], limit, cursor)
    page["items"] = [serialize_event(e, project_key) for e in page["items"]]
    return page


def count_events(project_id, after_seq):
    """How many events ``list_events`` pages through."""
    return db.session.scalar(select(func.count()).select_from(_feed(project_id, after_seq).subquery()))


def _feed(project_id, after_seq):
    return select(Event).where(Event.project_id == project_id, Event.seq > after_seq)


def record_event(project, type_, actor_id, data, seq=None):
    """Append one event to the project's feed in the current transaction (at ``seq`` if
    the caller reserved it)."""
    return record_events(project, [(type_, actor_id, data)], seq)[0]


def record_events(project, changes, first=None):
    """Append several ``(type, actor_id, data)`` events with consecutive seqs, in one
    statement: from ``first`` if the caller reserved them, else from seqs taken here."""
    if first is None:
        first, _ = reserve_seqs(project.id, len(changes))
    at = utcnow()
    rows = [
        {"project_id": project.id, "seq": first + i, "type": t, "actor_id": actor, "at": at, "data": data}
        for i, (t, actor, data) in enumerate(changes)
    ]
    with inserting_with_ids(Event.__table__, rows, "project_id", "seq") as ids:
        payloads = [
            event_payload(row_id, row["seq"], project.key, row["type"], row["actor_id"], at, row["data"])
            for row_id, row in zip(ids, rows, strict=True)
        ]
    after_commit.pending(db.session).extend(payloads)
    return payloads


@contextmanager
def savepoint():
    """Run a block in a savepoint; on error roll back just the block, and its events."""
    pending = list(after_commit.pending(db.session))
    try:
        # As a context manager, the savepoint is also closed after a failed flush, which
        # leaves it inactive: rolled back only when active, it stayed the session's
        # transaction and failed every statement after it (PendingRollbackError).
        with db.session.begin_nested():
            yield
    except BaseException:
        after_commit.set_pending(db.session, pending)
        raise
