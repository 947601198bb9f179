"""comment text only in a comment's latest event

Events recorded before kept every version of a comment's text: ``comment.updated`` had
``"changes": {"body": [old, new]}``, ``comment.deleted`` the deleted body, and the earlier
events their own. Now a comment's text is only in its latest event, and in none once it is
deleted (app/comments/service.py): this brings the recorded events to that rule. Each
project's comment events are read newest first, a page at a time; the first one met of a
comment is its latest.

Revision ID: 0002_comment_redaction
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_comment_redaction"
down_revision = "0001"
branch_labels = None
depends_on = None

TYPES = ("comment.created", "comment.updated", "comment.deleted")
PAGE = 500

events = sa.table("events", sa.column("id", sa.BigInteger), sa.column("project_id", sa.Integer),
                  sa.column("seq", sa.BigInteger), sa.column("type", sa.String), sa.column("data", sa.JSON))


def upgrade():
    connection = op.get_bind()
    projects = connection.execute(sa.select(events.c.project_id).where(events.c.type.in_(TYPES)).distinct())
    for project_id in projects.scalars().all():
        _redact_project(connection, project_id)


def _redact_project(connection, project_id):
    newest_first = (sa.select(events.c.id, events.c.seq, events.c.type, events.c.data)
                    .where(events.c.project_id == project_id, events.c.type.in_(TYPES))
                    .order_by(events.c.seq.desc()).limit(PAGE))
    seen = set()  # comments whose latest event is behind
    before = None
    while True:
        query = newest_first if before is None else newest_first.where(events.c.seq < before)
        rows = connection.execute(query).all()
        if not rows:
            return
        before = rows[-1].seq
        rewrites = []
        for row in rows:
            comment_id = row.data["comment"]["id"]
            keeps_text = comment_id not in seen and row.type != "comment.deleted"
            seen.add(comment_id)
            data = _redacted(row.type, row.data, keeps_text)
            if data != row.data:
                rewrites.append({"event_id": row.id, "new_data": data})
        if rewrites:
            connection.execute(events.update().where(events.c.id == sa.bindparam("event_id"))
                               .values(data=sa.bindparam("new_data")), rewrites)


def _redacted(type_, data, keeps_text):
    data = dict(data)
    if isinstance(data.get("changes"), dict):
        data["changes"] = {field: True for field in data["changes"]}
    if not keeps_text and "body" in data["comment"]:
        data["comment"] = {name: value for name, value in data["comment"].items() if name != "body"}
        if type_ != "comment.deleted":
            data["redacted"] = True
    return data


def downgrade():
    pass  # the text is gone: nothing to put back
