"""A change that rolls back leaves no row, no event and no broadcast."""
import pytest

from tests.conftest import scalar
from tests.support.commits import replace_broadcast  # noqa: F401


@pytest.fixture
def broadcasts(replace_broadcast):
    sent = []
    replace_broadcast(sent.extend)
    return sent


def test_committed_change_is_broadcast_once_after_commit(client, factory, broadcasts):
    owner = factory.user()
    factory.project(owner, "WEB")
    broadcasts.clear()
    response = client.post("/api/v1/projects/WEB/issues", json={"title": "t"}, headers=factory.headers(owner))
    assert response.status_code == 201
    assert [(e["type"], e["seq"]) for e in broadcasts] == [("issue.created", 2)]


def test_failure_after_record_event_leaves_no_event_and_no_broadcast(app, factory, broadcasts, monkeypatch):
    from app.extensions import db
    from app.issues import service

    owner = factory.user()
    project = factory.project(owner, "WEB")
    issue = factory.issue(project, owner, title="before")
    broadcasts.clear()
    events_before = scalar("SELECT COUNT(*) FROM events")

    real_record = service.record_event

    def record_then_fail(*args, **kwargs):
        real_record(*args, **kwargs)
        raise RuntimeError("injected after the event was written")

    with monkeypatch.context() as patch, pytest.raises(RuntimeError):
        patch.setattr(service, "record_event", record_then_fail)
        service.update_issue(issue, owner, {"title": "after"})
    db.session.rollback()
    assert scalar("SELECT COUNT(*) FROM events") == events_before
    assert scalar("SELECT title FROM issues") == "before"
    assert scalar("SELECT version FROM issues") == 1
    assert broadcasts == []
    # the next committed change takes the next seq: no gap was left behind
    service.update_issue(db.session.get(type(issue), issue.id), owner, {"title": "later"})
    assert [e["seq"] for e in broadcasts] == [events_before + 1]


def test_rest_request_that_fails_rolls_back(client, factory, broadcasts, monkeypatch):
    owner = factory.user()
    factory.project(owner, "WEB")
    broadcasts.clear()
    from app.issues import service

    real_record = service.record_event

    def record_then_fail(*args, **kwargs):
        real_record(*args, **kwargs)
        raise RuntimeError("boom")

    headers = factory.headers(owner)
    with monkeypatch.context() as patch:
        patch.setattr(service, "record_event", record_then_fail)
        response = client.post("/api/v1/projects/WEB/issues", json={"title": "t"}, headers=headers)
    assert response.status_code == 500
    assert scalar("SELECT COUNT(*) FROM issues") == 0
    assert scalar("SELECT COUNT(*) FROM events WHERE type = 'issue.created'") == 0
    assert broadcasts == []
