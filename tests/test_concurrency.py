"""Concurrent writers in one project get distinct issue numbers and a gapless event seq."""
import threading

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Event, Issue


# Real row-level concurrency needs PostgreSQL; SQLite serializes whole-database writes.
@pytest.mark.backends("postgresql")
def test_twenty_threads_create_issues_and_comments(app, factory):
    owner = factory.user()
    project = factory.project(owner, "WEB")
    writers = [factory.member(project, factory.user(), "member") for _ in range(20)]
    writer_ids, project_id = [w.id for w in writers], project.id
    start = threading.Barrier(20, timeout=30)
    db.session.remove()  # the main thread holds no connection while the writers run
    errors = []

    def work(user_id):
        from app.comments.service import create_comment
        from app.issues.service import create_issue
        from app.models import Project, User

        with app.app_context():
            try:
                start.wait()  # before taking a connection: the pool has fewer than 20
                user = db.session.get(User, user_id)
                for i in range(3):
                    project_row = db.session.scalar(select(Project).where(Project.key == "WEB"))
                    issue = create_issue(project_row, user, {"title": f"by {user_id} #{i}"})
                    create_comment(issue, user, "first!")
            except Exception as error:  # collected and asserted below
                errors.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(uid,)) for uid in writer_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    db.session.remove()
    numbers = db.session.scalars(select(Issue.number).where(Issue.project_id == project_id)).all()
    assert sorted(numbers) == list(range(1, 61))
    seqs = db.session.scalars(select(Event.seq).where(Event.project_id == project_id).order_by(Event.seq)).all()
    assert seqs == list(range(1, 1 + 1 + 120))  # project.created + 60 issues + 60 comments
