"""Comments: oldest first, edited by their author or a maintainer, each change an event; text
edited away or deleted is taken out of the change feed."""
from datetime import datetime

import pytest
from sqlalchemy import text


def test_comment_lifecycle_and_events(client, factory):
    owner = factory.user()
    project = factory.project(owner, "WEB")
    issue = factory.issue(project, owner)
    headers = factory.headers(owner)
    url = f"/api/v1/issues/{issue.id}/comments"
    first = client.post(url, json={"body": "first"}, headers=headers)
    client.post(url, json={"body": "second"}, headers=headers)
    assert first.status_code == 201 and first.headers["ETag"] == '"1"'
    assert [c["body"] for c in client.get(url, headers=headers).json["items"]] == ["first", "second"]
    edited = client.patch(f"/api/v1/comments/{first.json['id']}", json={"body": "first!"},
                          headers={**headers, "If-Match": '"1"'})
    assert edited.status_code == 200 and edited.json["version"] == 2
    stale = client.patch(f"/api/v1/comments/{first.json['id']}", json={"body": "lost"},
                         headers={**headers, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert client.delete(f"/api/v1/comments/{first.json['id']}", headers=headers).status_code == 204
    types = [e["type"] for e in client.get("/api/v1/projects/WEB/events", headers=headers).json["items"]]
    assert types[-4:] == ["comment.created", "comment.created", "comment.updated", "comment.deleted"]


def test_blank_comment_is_422(client, factory):
    owner = factory.user()
    issue = factory.issue(factory.project(owner, "WEB"), owner)
    response = client.post(f"/api/v1/issues/{issue.id}/comments", json={"body": "   "}, headers=factory.headers(owner))
    assert response.status_code == 422 and "body" in response.json["errors"]


def test_comment_pages(client, factory):
    owner = factory.user()
    issue = factory.issue(factory.project(owner, "WEB"), owner)
    for i in range(5):
        factory.comment(issue, owner, f"c{i}")
    headers = factory.headers(owner)
    page = client.get(f"/api/v1/issues/{issue.id}/comments?limit=2", headers=headers).json
    rest = client.get(f"/api/v1/issues/{issue.id}/comments?limit=10&cursor={page['next_cursor']}", headers=headers).json
    assert [c["body"] for c in page["items"] + rest["items"]] == [f"c{i}" for i in range(5)]
    assert rest["next_cursor"] is None


def feed(client, headers, key="WEB"):
    response = client.get(f"/api/v1/projects/{key}/events", headers=headers)
    assert response.status_code == 200
    return response.json["items"], response.get_data(as_text=True)


@pytest.fixture
def thread(client, factory):
    """An issue with Ada's comment to be edited or deleted, and Bob's that stays."""
    ada, bob = factory.user("Ada"), factory.user("Bob")
    project = factory.project(ada, "WEB")
    factory.member(project, bob, "member")
    issue = factory.issue(project, ada)
    url = f"/api/v1/issues/{issue.id}/comments"
    ada_headers = factory.headers(ada)
    mine = client.post(url, json={"body": "the password is hunter2"}, headers=ada_headers).json
    client.post(url, json={"body": "Bob was here"}, headers=factory.headers(bob))
    return {"headers": ada_headers, "comment": mine, "url": f"/api/v1/comments/{mine['id']}"}


def test_an_edit_leaves_what_changed_in_the_feed_but_not_the_text_edited_away(client, thread):
    headers = thread["headers"]
    assert "hunter2" in feed(client, headers)[1]  # read (and cached) before the edit
    edited = client.patch(thread["url"], json={"body": "the password is ******"}, headers=headers)
    assert edited.status_code == 200 and edited.headers["ETag"] == '"2"'
    events, text = feed(client, headers)
    assert "hunter2" not in text
    created, others, updated = events[-3:]
    assert (created["type"], updated["type"]) == ("comment.created", "comment.updated")
    assert created["data"]["redacted"] is True and "body" not in created["data"]["comment"]
    assert created["data"]["comment"]["id"] == thread["comment"]["id"] and created["actor_id"] is not None
    assert updated["data"]["changes"] == {"body": True}
    assert updated["data"]["comment"]["body"] == "the password is ******"  # the text as it is now
    assert others["data"]["comment"]["body"] == "Bob was here" and "redacted" not in others["data"]


def test_a_second_edit_takes_the_first_edit_s_text_out_too(client, thread):
    headers = thread["headers"]
    client.patch(thread["url"], json={"body": "second version"}, headers=headers)
    client.patch(thread["url"], json={"body": "third version"}, headers=headers)
    events, text = feed(client, headers)
    assert "hunter2" not in text and "second version" not in text
    assert [e["data"]["comment"].get("body") for e in events if e["type"].startswith("comment.")] == [
        None, "Bob was here", None, "third version"]


def test_a_delete_takes_the_comment_s_text_out_of_the_whole_feed(client, thread):
    headers = thread["headers"]
    client.patch(thread["url"], json={"body": "edited"}, headers=headers)
    assert client.delete(thread["url"], headers=headers).status_code == 204
    events, text = feed(client, headers)
    assert "hunter2" not in text and "edited" not in text and "Bob was here" in text
    deleted = events[-1]
    assert deleted["type"] == "comment.deleted" and deleted["data"]["comment"]["id"] == thread["comment"]["id"]
    assert set(deleted["data"]["comment"]) == {"id", "issue_id", "author_id", "created_at", "updated_at", "version"}
    assert all("body" not in e["data"]["comment"] for e in events
               if e["type"].startswith("comment.") and e["data"]["comment"]["id"] == thread["comment"]["id"])


def test_an_edit_of_a_comment_recorded_before_redaction_cleans_its_old_events(client, thread):
    from sqlalchemy import update

    from app.extensions import db
    from app.models import Event

    headers = thread["headers"]
    client.patch(thread["url"], json={"body": "edited"}, headers=headers)
    legacy = {"issue_id": thread["comment"]["issue_id"], "comment": {**thread["comment"], "body": "edited"},
              "changes": {"body": ["the password is hunter2", "edited"]}}  # as events were written before
    db.session.execute(update(Event).where(Event.type == "comment.updated").values(data=legacy))
    db.session.commit()
    client.patch(thread["url"], json={"body": "edited again"}, headers=headers)
    events, text = feed(client, headers)
    assert "hunter2" not in text and events[-2]["data"]["changes"] == {"body": True}


def test_an_event_holding_the_text_is_found_even_when_it_is_not_where_it_should_be(client, thread):
    from app.extensions import db

    later = "UPDATE comments SET updated_at = :at WHERE id = :id"  # as if changed without an event
    db.session.execute(text(later), {"at": datetime(2100, 1, 1), "id": thread["comment"]["id"]})
    db.session.commit()
    assert client.delete(thread["url"], headers=thread["headers"]).status_code == 204
    assert "hunter2" not in feed(client, thread["headers"])[1]
