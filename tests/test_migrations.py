"""Data migrations: a database at the revision before, holding rows as the code of that
revision wrote them, upgraded on each engine."""
import pytest
from flask_migrate import upgrade
from sqlalchemy import insert, select

from app.extensions import db
from app.models import Event, Project
from app.models.base import utcnow
from tests import conftest
from tests.support import services


@pytest.fixture
def old_app(backend):
    """An app on a fresh database of this backend, not migrated yet."""
    from app import create_app

    url = services.create_database(backend, conftest.INSTANCE)
    made = create_app(conftest.test_config(url))
    yield made
    services.dispose(made)
    services.drop_database(backend, url)


def comment_event(type_, comment_id, body=None, changes=None):
    comment = {"id": comment_id, "issue_id": 1, "author_id": None, "created_at": "2026-11-30T10:00:00Z",
               "updated_at": "2026-11-30T10:00:00Z", "version": 1}
    data = {"issue_id": 1, "comment": comment if body is None else {**comment, "body": body}}
    return (type_, data) if changes is None else (type_, {**data, "changes": changes})


def test_0002_leaves_a_comment_s_text_only_in_its_latest_event(old_app):
    with old_app.app_context():
        upgrade(revision="0001")
        db.session.execute(insert(Project).values(id=1, key="WEB", name="Web", description=""))
        written = [  # as 0001's code wrote them
            comment_event("comment.created", 1, "first draft"),
            comment_event("comment.updated", 1, "second draft", {"body": ["first draft", "second draft"]}),
            comment_event("comment.created", 2, "to be deleted"),
            comment_event("comment.updated", 1, "final", {"body": ["second draft", "final"]}),
            comment_event("comment.deleted", 2, "to be deleted"),
            comment_event("comment.created", 3, "never edited"),
            ("issue.updated", {"issue": {"id": 1}, "changes": {"title": ["old", "new"]}}),
        ]
        db.session.execute(insert(Event), [{"project_id": 1, "seq": seq, "type": type_, "at": utcnow(), "data": data}
                                           for seq, (type_, data) in enumerate(written, 1)])
        db.session.commit()
        upgrade()
        after = db.session.scalars(select(Event.data).order_by(Event.seq)).all()
    bodies = [data["comment"].get("body") for data in after[:6]]
    assert bodies == [None, None, None, "final", None, "never edited"]
    assert [data.get("redacted") for data in after[:6]] == [True, True, True, None, None, None]
    assert after[1]["changes"] == after[3]["changes"] == {"body": True}
    assert after[6] == written[6][1]  # other events as they were


def test_0006_gives_every_existing_user_a_unique_handle_from_their_email(old_app):
    from sqlalchemy import text

    with old_app.app_context():
        upgrade(revision="0003_access_changes")
        for email in ("ann.lee@one.test", "Ann.Lee@two.test", "x@three.test", "ann-lee2@four.test"):
            db.session.execute(text("INSERT INTO users (email, name, password_hash, is_admin, active, created_at, "
                                    "version) VALUES (:email, 'N', 'h', false, true, :at, 1)"),
                               {"email": email.lower(), "at": utcnow()})
        db.session.commit()
        upgrade(revision="0006_notifications")
        rows = db.session.execute(text("SELECT email, handle, email_notifications FROM users ORDER BY id")).all()
        assert [tuple(row) for row in rows] == [
            ("ann.lee@one.test", "ann-lee", "digest"), ("ann.lee@two.test", "ann-lee2", "digest"),
            ("x@three.test", "user", "digest"), ("ann-lee2@four.test", "ann-lee22", "digest")]
        db.session.remove()
