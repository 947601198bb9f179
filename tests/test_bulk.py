"""Rows written in bulk (``app/bulk.py``: COPY, or the driver's executemany on SQLite) read
back as the ORM would have written them."""
from datetime import datetime

from sqlalchemy import select

from app.bulk import insert_rows, inserting_with_ids
from app.events.service import reserve_seqs
from app.extensions import db
from app.models import Event, IssueStatusChange


def test_bulk_rows_read_back_with_their_ids_timestamps_json_and_nulls(app, factory):
    owner = factory.user("Owner")
    project = factory.project(owner, "BLK")
    issue_id = factory.issue(project, owner).id
    at = datetime(2026, 1, 2, 3, 4, 5, 678000)
    first, _ = reserve_seqs(project.id, 3)
    payloads = [{"n": 1, "text": "é \u2028 \"quoted\""}, {}, {"list": [1, None, 2.5], "nested": {"ok": True}}]
    rows = [{"project_id": project.id, "seq": first + i, "type": "issue.created", "actor_id": owner.id if i else None,
             "at": at, "data": data} for i, data in enumerate(payloads)]
    with inserting_with_ids(Event.__table__, rows, "project_id", "seq") as ids:
        pass
    insert_rows(IssueStatusChange.__table__, [
        {"issue_id": issue_id, "project_id": project.id, "from_status": None, "to_status": "open", "at": at,
         "actor_id": owner.id}])
    db.session.commit()

    found = db.session.execute(select(Event.id, Event.seq, Event.actor_id, Event.at, Event.data)
                               .where(Event.project_id == project.id, Event.seq >= first).order_by(Event.seq)).all()
    assert [tuple(row) for row in found] == [
        (ids[i], first + i, row["actor_id"], at, payloads[i]) for i, row in enumerate(rows)]
    change = db.session.scalars(select(IssueStatusChange).where(IssueStatusChange.issue_id == issue_id,
                                                                IssueStatusChange.at == at)).one()
    assert (change.from_status, change.to_status, change.actor_id) == (None, "open", owner.id)
