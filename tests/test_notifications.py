"""Notifications (contract section 16): handles, watchers, mentions, the fan-out after
commit, the inbox, and bad input. Real PostgreSQL and SQLite, REST and batches."""
import pytest

from app.extensions import db
from app.models import IssueWatcher, Notification, User
from tests.support.batches import batches, create  # noqa: F401 (fixture)


def inbox(client, headers, **query):
    db.session.remove()
    response = client.get("/api/v1/notifications", headers=headers, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.json["items"]


def unread(client, headers):
    return client.get("/api/v1/notifications/unread-count", headers=headers).json["count"]


@pytest.fixture
def team(factory):
    """A project WEB with a maintainer (ann), two members (bob, cat), and an outsider (dan)."""
    ann = factory.user("Ann", email="ann@example.test")
    bob = factory.user("Bob", email="bob@example.test")
    cat = factory.user("Cat", email="cat@example.test")
    dan = factory.user("Dan", email="dan@example.test")
    project = factory.project(ann)
    factory.member(project, bob)
    factory.member(project, cat)
    return {"project": project, "ann": ann, "bob": bob, "cat": cat, "dan": dan,
            **{f"h_{u.handle}": factory.headers(u) for u in (ann, bob, cat, dan)}}


# -- handles and /me ---------------------------------------------------------------------

def test_users_get_a_handle_from_their_email_made_unique_with_a_number(factory):
    first = factory.user(email="Ann.Lee+x@one.test")
    second = factory.user(email="ann.lee+x@two.test")
    short = factory.user(email="a@three.test")
    assert (first.handle, second.handle, short.handle) == ("ann-lee-x", "ann-lee-x2", "user")


def test_me_shows_and_changes_handle_name_and_email_choice(client, factory):
    user = factory.user("Eve", email="eve@example.test")
    headers = factory.headers(user)
    me = client.get("/api/v1/me", headers=headers).json
    assert me == {"id": user.id, "name": "Eve", "email": "eve@example.test", "handle": "eve",
                  "is_admin": False, "email_notifications": "digest"}
    response = client.patch("/api/v1/me", headers=headers,
                            json={"handle": "Evie_2", "email_notifications": "instant", "name": "Evie"})
    assert response.status_code == 200, response.json
    assert (response.json["handle"], response.json["email_notifications"], response.json["name"]) == (
        "evie_2", "instant", "Evie")


@pytest.mark.parametrize("body, field", [
    ({"handle": "a"}, "handle"), ({"handle": "x" * 33}, "handle"), ({"handle": "no spaces"}, "handle"),
    ({"handle": "dot.ted"}, "handle"), ({"handle": 12}, "handle"), ({"email_notifications": "weekly"},
                                                                   "email_notifications"),
    ({"name": ""}, "name"), ({"is_admin": True}, "is_admin"),
])
def test_me_refuses_bad_input_and_changes_nothing(client, factory, body, field):
    user = factory.user(email="fay@example.test")
    response = client.patch("/api/v1/me", headers=factory.headers(user), json=body)
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    assert field in response.json["errors"]
    db.session.remove()
    again = db.session.get(User, user.id)
    assert (again.handle, again.email_notifications, again.is_admin) == ("fay", "digest", False)


def test_a_taken_handle_is_422_regardless_of_case(client, factory):
    factory.user(email="gus@example.test")
    user = factory.user(email="hal@example.test")
    response = client.patch("/api/v1/me", headers=factory.headers(user), json={"handle": "GUS"})
    assert response.status_code == 422 and "handle" in response.json["errors"]


def test_me_needs_a_token(client):
    assert client.get("/api/v1/me").status_code == 401
    assert client.patch("/api/v1/me", json={"name": "x"}).status_code == 401


# -- watchers and notifications ----------------------------------------------------------

def test_assigning_on_create_notifies_the_assignee_not_the_actor(client, team):
    response = client.post("/api/v1/projects/WEB/issues", headers=team["h_ann"],
                           json={"title": "Fix it", "assignee_id": team["bob"].id})
    assert response.status_code == 201
    issue = response.json
    [note] = inbox(client, team["h_bob"])
    assert {k: note[k] for k in ("type", "issue_id", "issue_key", "project", "actor_id", "read_at")} == {
        "type": "assigned", "issue_id": issue["id"], "issue_key": issue["key"], "project": "WEB",
        "actor_id": team["ann"].id, "read_at": None}
    assert note["at"].endswith("Z") and isinstance(note["event_id"], int)
    assert inbox(client, team["h_ann"]) == [] and inbox(client, team["h_cat"]) == []
    for who, watching in (("h_ann", True), ("h_bob", True), ("h_cat", False)):
        assert client.get(f"/api/v1/issues/{issue['id']}", headers=team[who]).json["watching"] is watching


def test_a_comment_notifies_watchers_and_makes_the_commenter_one(client, factory, team):
    issue = factory.issue(team["project"], team["ann"], assignee_id=team["bob"].id)
    client.post(f"/api/v1/issues/{issue.id}/comments", headers=team["h_cat"], json={"body": "Me too"})
    assert [n["type"] for n in inbox(client, team["h_ann"])] == ["commented"]
    assert [n["type"] for n in inbox(client, team["h_bob"])] == ["commented", "assigned"]
    assert inbox(client, team["h_cat"]) == []
    client.patch(f"/api/v1/issues/{issue.id}", headers=team["h_bob"], json={"status": "resolved"})
    assert [n["type"] for n in inbox(client, team["h_cat"])] == ["status_changed"]
    assert [n["type"] for n in inbox(client, team["h_ann"])] == ["status_changed", "commented"]
    client.patch(f"/api/v1/issues/{issue.id}", headers=team["h_bob"], json={"priority": "high"})
    assert [n["type"] for n in inbox(client, team["h_cat"])] == ["updated", "status_changed"]


def test_mentions_notify_readers_only_and_not_from_code(client, factory, team):
    body = "Ask @Cat and @dan and @nobody, not `@bob`\n\n```\n@bob\n```\n"
    response = client.post("/api/v1/projects/WEB/issues", headers=team["h_ann"], json={"title": "T", "description": body})
    issue_id = response.json["id"]
    assert [n["type"] for n in inbox(client, team["h_cat"])] == ["mentioned"]
    assert inbox(client, team["h_bob"]) == [] and inbox(client, team["h_dan"]) == []
    assert db.session.get(IssueWatcher, (issue_id, team["dan"].id)) is None  # the outsider learns nothing
    assert client.get(f"/api/v1/issues/{issue_id}", headers=team["h_cat"]).json["watching"] is True
    # a mention in a comment, of a watcher: one notification, the first reason (mentioned)
    client.post(f"/api/v1/issues/{issue_id}/comments", headers=team["h_bob"], json={"body": "@cat @ann look"})
    assert [n["type"] for n in inbox(client, team["h_cat"])] == ["mentioned", "mentioned"]
    assert [n["type"] for n in inbox(client, team["h_ann"])] == ["mentioned"]


def test_a_description_edit_notifies_only_the_newly_mentioned(client, factory, team):
    issue = factory.issue(team["project"], team["ann"], description="cc @bob")
    client.patch(f"/api/v1/issues/{issue.id}", headers=team["h_ann"], json={"description": "cc @bob @cat"})
    assert [n["type"] for n in inbox(client, team["h_cat"])] == ["mentioned"]
    assert [n["type"] for n in inbox(client, team["h_bob"])] == ["updated", "mentioned"]


def test_unwatch_stops_notifications_and_watch_starts_them(client, factory, team):
    issue = factory.issue(team["project"], team["ann"])
    assert client.delete(f"/api/v1/issues/{issue.id}/watch", headers=team["h_ann"]).status_code == 204
    assert client.put(f"/api/v1/issues/{issue.id}/watch", headers=team["h_cat"]).status_code == 204
    client.post(f"/api/v1/issues/{issue.id}/comments", headers=team["h_bob"], json={"body": "hi"})
    assert inbox(client, team["h_ann"]) == []
    assert [n["type"] for n in inbox(client, team["h_cat"])] == ["commented"]
    assert client.get(f"/api/v1/issues/{issue.id}", headers=team["h_ann"]).json["watching"] is False
    # taking part again does not undo an unwatch
    client.post(f"/api/v1/issues/{issue.id}/comments", headers=team["h_ann"], json={"body": "me"})
    client.post(f"/api/v1/issues/{issue.id}/comments", headers=team["h_bob"], json={"body": "hi again"})
    assert inbox(client, team["h_ann"]) == []


@pytest.mark.parametrize("role, status", [("none", 404), ("viewer", 204), ("member", 204), ("maintainer", 204),
                                          ("admin", 204)])
def test_watch_needs_read_access(client, factory, team, role, status):
    issue = factory.issue(team["project"], team["ann"])
    headers = factory.role_headers(team["project"], role)
    assert client.put(f"/api/v1/issues/{issue.id}/watch", headers=headers).status_code == status
    assert client.delete(f"/api/v1/issues/{issue.id}/watch", headers=headers).status_code == status
    assert client.put("/api/v1/issues/999999/watch", headers=headers).status_code == 404


def test_deactivated_and_removed_users_get_nothing_more(client, factory, team):
    issue = factory.issue(team["project"], team["ann"], assignee_id=team["bob"].id)
    factory.comment(issue, team["cat"])
    assert client.delete(f"/api/v1/projects/WEB/members/{team['cat'].id}", headers=team["h_ann"]).status_code == 204
    bob = db.session.get(User, team["bob"].id)
    bob.active = False
    db.session.commit()
    client.post(f"/api/v1/issues/{issue.id}/comments", headers=team["h_ann"], json={"body": "@cat @bob"})
    db.session.remove()
    assert db.session.query(Notification).filter(Notification.user_id.in_([team["bob"].id, team["cat"].id]),
                                                 Notification.type != "assigned").count() == 1  # cat's first


# -- the inbox ---------------------------------------------------------------------------

def test_inbox_lists_newest_first_filters_unread_and_marks_read(client, factory, team):
    issues = [factory.issue(team["project"], team["ann"], assignee_id=team["bob"].id) for _ in range(3)]
    notes = inbox(client, team["h_bob"])
    assert [n["issue_id"] for n in notes] == [i.id for i in reversed(issues)]
    assert unread(client, team["h_bob"]) == 3
    page = client.get("/api/v1/notifications", headers=team["h_bob"], query_string={"limit": 2}).json
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = client.get("/api/v1/notifications", headers=team["h_bob"],
                      query_string={"limit": 2, "cursor": page["next_cursor"]}).json
    assert [n["id"] for n in rest["items"]] == [notes[2]["id"]] and rest["next_cursor"] is None
    assert client.post("/api/v1/notifications/read", headers=team["h_bob"],
                       json={"ids": [notes[0]["id"]]}).status_code == 204
    assert unread(client, team["h_bob"]) == 2
    assert [n["id"] for n in inbox(client, team["h_bob"], unread="true")] == [notes[1]["id"], notes[2]["id"]]
    assert inbox(client, team["h_bob"])[0]["read_at"].endswith("Z")
    # someone else's ids change nothing
    assert client.post("/api/v1/notifications/read", headers=team["h_cat"],
                       json={"ids": [notes[1]["id"]]}).status_code == 204
    assert unread(client, team["h_bob"]) == 2
    assert client.post("/api/v1/notifications/read", headers=team["h_bob"], json={"all": True}).status_code == 204
    assert unread(client, team["h_bob"]) == 0


@pytest.mark.parametrize("body", [{}, {"ids": []}, {"ids": "1"}, {"ids": ["a"]}, {"ids": [0]}, {"all": "yes"},
                                  {"all": False}, {"ids": [1], "all": True}, {"ids": [2**63]},
                                  {"ids": list(range(1, 1002))}, {"other": 1}, []])
def test_mark_read_refuses_bad_input(client, factory, team, body):
    factory.issue(team["project"], team["ann"], assignee_id=team["bob"].id)
    response = client.post("/api/v1/notifications/read", headers=team["h_bob"], json=body)
    assert response.status_code == 422, response.json
    assert response.headers["Content-Type"] == "application/problem+json"
    assert unread(client, team["h_bob"]) == 1


def test_mark_read_refuses_malformed_json(client, team):
    response = client.post("/api/v1/notifications/read", headers={**team["h_bob"], "Content-Type": "application/json"},
                           data=b"{not json")
    assert response.status_code == 400


@pytest.mark.parametrize("query", [{"unread": "maybe"}, {"limit": "0"}, {"limit": "201"}, {"cursor": "garbage"}])
def test_inbox_refuses_bad_queries(client, team, query):
    assert client.get("/api/v1/notifications", headers=team["h_bob"], query_string=query).status_code == 422


def test_inbox_needs_a_token(client):
    for path in ("/api/v1/notifications", "/api/v1/notifications/unread-count"):
        assert client.get(path).status_code == 401
    assert client.post("/api/v1/notifications/read", json={"all": True}).status_code == 401


# -- batches and the transaction ---------------------------------------------------------

def test_a_batch_notifies_like_rest_in_one_fan_out(client, factory, team, batches):
    operations = [create(f"Issue {i}", assignee_id=team["bob"].id, lid=f"i{i}") for i in range(30)]
    operations.append({"op": "create", "resource": "comment", "data": {"issue_lid": "i0", "body": "hey @cat"}})
    batch, results = batches.run(team["h_ann"], operations)
    assert batch["status"] == "succeeded", results[:3]
    notes = inbox(client, team["h_bob"], limit=200)
    assert len(notes) == 31 and {n["type"] for n in notes} == {"assigned", "commented"}
    assert [n["type"] for n in inbox(client, team["h_cat"])] == ["mentioned"]
    assert inbox(client, team["h_ann"]) == []


def test_a_failed_fan_out_stores_neither_watchers_nor_notifications(client, factory, team, monkeypatch):
    from app.notifications import fanout

    def broken(connection, rows):
        raise RuntimeError("disk full")

    monkeypatch.setattr(fanout, "_insert_notifications", broken)
    response = client.post("/api/v1/projects/WEB/issues", headers=team["h_ann"],
                           json={"title": "T", "assignee_id": team["bob"].id})
    assert response.status_code == 201  # the change itself is committed
    db.session.remove()
    assert db.session.query(IssueWatcher).count() == 0
    assert db.session.query(Notification).count() == 0


# -- who an @ can mention ----------------------------------------------------------------

def test_handles_lists_the_project_s_active_members_by_prefix(client, factory, team):
    factory.user("Bobby", email="bobby@example.test")  # not a member
    items = client.get("/api/v1/projects/WEB/handles", headers=team["h_cat"], query_string={"q": "B"}).json["items"]
    assert items == [{"user_id": team["bob"].id, "name": "Bob", "handle": "bob"}]
    everyone = client.get("/api/v1/projects/WEB/handles", headers=team["h_cat"]).json["items"]
    assert [i["handle"] for i in everyone] == ["ann", "bob", "cat"]
    assert client.get("/api/v1/projects/WEB/handles", headers=team["h_dan"]).status_code == 404
    assert client.get("/api/v1/projects/WEB/handles", headers=team["h_cat"],
                      query_string={"limit": "0"}).status_code == 422
    assert client.get("/api/v1/projects/WEB/handles", headers=team["h_cat"],
                      query_string={"q": "%"}).json["items"] == []


def test_an_issue_gone_before_the_fan_out_is_skipped_and_the_rest_notified(client, factory, team, batches):
    operations = [create("Kept", assignee_id=team["bob"].id), create("Gone", assignee_id=team["bob"].id, lid="g"),
                  {"op": "delete", "resource": "issue", "lid": "g"}]
    batch, results = batches.run(team["h_ann"], operations)
    assert batch["status"] == "succeeded", results
    notes = inbox(client, team["h_bob"])
    assert [n["issue_id"] for n in notes] == [results[0]["id"]]
