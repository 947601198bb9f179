"""Members: add, change role, remove; each a membership event and an audit entry. A
member's e-mail shows only to that member and to admins, so adding users by id reveals
no address."""
import pytest

from tests.conftest import scalar


def counts():
    return tuple(scalar(f"SELECT COUNT(*) FROM {table}") for table in ("memberships", "events", "audit_log"))


def test_add_change_and_remove_a_member(client, factory):
    owner, other = factory.user(), factory.user("Grace")
    factory.project(owner, "WEB")
    headers = factory.headers(owner)
    added = client.put(f"/api/v1/projects/WEB/members/{other.id}", json={"role": "member"}, headers=headers)
    assert added.status_code == 200
    assert added.json == {"user_id": other.id, "name": "Grace", "email": None, "role": "member"}
    changed = client.put(f"/api/v1/projects/WEB/members/{other.id}", json={"role": "maintainer"}, headers=headers)
    assert changed.json["role"] == "maintainer"
    assert client.delete(f"/api/v1/projects/WEB/members/{other.id}", headers=headers).status_code == 204
    events = client.get("/api/v1/projects/WEB/events", headers=headers).json["items"]
    assert [(e["type"], e["data"]["role"]) for e in events[1:]] == [
        ("member.added", "member"), ("member.added", "maintainer"), ("member.removed", "maintainer")]
    assert events[2]["data"]["previous_role"] == "member"
    assert scalar("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'member.%'") == 3
    assert client.get("/api/v1/projects/WEB", headers=factory.headers(other)).status_code == 404


def test_same_role_again_writes_nothing(client, factory):
    owner, other = factory.user(), factory.user()
    factory.project(owner, "WEB")
    headers = factory.headers(owner)
    client.put(f"/api/v1/projects/WEB/members/{other.id}", json={"role": "viewer"}, headers=headers)
    before = scalar("SELECT COUNT(*) FROM events")
    client.put(f"/api/v1/projects/WEB/members/{other.id}", json={"role": "viewer"}, headers=headers)
    assert scalar("SELECT COUNT(*) FROM events") == before


def test_project_creation_is_one_event_without_member_added(client, factory):
    owner = factory.user()
    client.post("/api/v1/projects", json={"key": "WEB", "name": "Web"}, headers=factory.headers(owner))
    types = [e["type"] for e in client.get("/api/v1/projects/WEB/events", headers=factory.headers(owner)).json["items"]]
    assert types == ["project.created"]


def test_adding_by_id_reveals_no_e_mail_and_a_missing_or_deactivated_user_is_404(client, factory):
    owner, stranger, gone = factory.user(), factory.user("Stranger"), factory.user("Gone", active=False)
    factory.project(owner, "WEB")
    factory.project(stranger, "THEIRS")
    headers = factory.headers(owner)
    added = client.put(f"/api/v1/projects/WEB/members/{stranger.id}", json={"role": "viewer"}, headers=headers)
    assert added.status_code == 200 and added.json["email"] is None
    members = client.get("/api/v1/projects/WEB/members", headers=headers).get_data(as_text=True)
    assert stranger.email not in members and stranger.email not in added.get_data(as_text=True)
    before = counts()
    for user_id in (gone.id, gone.id + 1000):
        missing = client.put(f"/api/v1/projects/WEB/members/{user_id}", json={"role": "viewer"}, headers=headers)
        assert missing.status_code == 404 and gone.email not in missing.get_data(as_text=True)
    assert counts() == before


def test_e_mails_in_member_items_show_only_to_the_member_and_to_admins(client, factory):
    owner, colleague = factory.user(), factory.user("Colleague")
    factory.member(factory.project(owner, "WEB"), colleague, "member")
    admin = factory.admin()

    def emails(user):
        items = client.get("/api/v1/projects/WEB/members", headers=factory.headers(user)).json["items"]
        return {item["user_id"]: item["email"] for item in items}

    assert emails(owner) == {owner.id: owner.email, colleague.id: None}
    assert emails(colleague) == {owner.id: None, colleague.id: colleague.email}
    assert emails(admin) == {owner.id: owner.email, colleague.id: colleague.email}
    admin_added = client.put(f"/api/v1/projects/WEB/members/{admin.id}", json={"role": "viewer"},
                             headers=factory.headers(admin))
    assert admin_added.json["email"] == admin.email


def test_adding_by_email_answers_the_same_whether_or_not_the_user_exists(client, factory):
    owner = factory.user()
    grace = factory.user("Grace", email="grace@example.test")
    factory.user("Gone", email="gone@example.test", active=False)
    factory.project(owner, "WEB")
    headers = factory.headers(owner)
    url = "/api/v1/projects/WEB/members"
    before = counts()
    for email in ("nobody@example.test", "gone@example.test"):
        response = client.post(url, json={"email": email, "role": "member"}, headers=headers)
        assert response.status_code == 202 and response.json == {"email": email, "role": "member"}
    assert counts() == before  # no such active user: nothing happened, and nothing says so
    known = client.post(url, json={"email": "Grace@Example.test", "role": "member"}, headers=headers)
    assert known.status_code == 202 and known.json == {"email": "Grace@Example.test", "role": "member"}
    assert set(known.headers.keys()) == set(response.headers.keys())  # no Location, nothing more
    members = client.get(url, headers=headers).json["items"]
    assert [(m["user_id"], m["name"], m["role"]) for m in members[1:]] == [(grace.id, "Grace", "member")]
    events = client.get("/api/v1/projects/WEB/events", headers=headers).json["items"]
    assert events[-1]["type"] == "member.added" and events[-1]["data"]["user_id"] == grace.id
    again = client.post(url, json={"email": "grace@example.test", "role": "viewer"}, headers=headers)
    assert again.status_code == 202
    assert client.get(url, headers=headers).json["items"][1]["role"] == "viewer"  # as PUT: the role changes


@pytest.mark.parametrize("body,field", [
    ({"role": "member"}, "_schema"), ({"email": "not an address", "role": "member"}, "email"),
    ({"email": "a@example.test"}, "role"), ({"email": "a@example.test", "role": "owner"}, "role"),
    ({"email": "a@example.test", "role": "member", "user_id": 1}, "user_id"),
    ({"email": "x" * 250 + "@example.test", "role": "member"}, "email"),
])
def test_adding_by_email_with_bad_input_is_422(client, factory, body, field):
    owner = factory.user()
    factory.project(owner, "WEB")
    before = counts()
    response = client.post("/api/v1/projects/WEB/members", json=body, headers=factory.headers(owner))
    assert response.status_code == 422 and field in response.json["errors"], response.json
    assert counts() == before


def test_member_additions_are_rate_limited_per_caller(make_app, factory):
    app = make_app(RATE_LIMIT_MEMBERS="3/minute")
    client = app.test_client()
    with app.app_context():
        owner, other = factory.user(), factory.user()
        factory.project(owner, "WEB")
        factory.project(other, "OTHER")
        headers = factory.headers(owner)
        statuses = [client.post("/api/v1/projects/WEB/members", json={"email": f"u{i}@example.test", "role": "member"},
                                headers=headers).status_code for i in range(3)]
        limited = client.put(f"/api/v1/projects/WEB/members/{owner.id}", json={"role": "maintainer"}, headers=headers)
        assert statuses == [202, 202, 202] and limited.status_code == 429
        assert int(limited.headers["Retry-After"]) > 0 and limited.mimetype == "application/problem+json"
        assert client.post("/api/v1/projects/WEB/members", json={"email": "x@example.test", "role": "member"},
                           headers=headers).status_code == 429
        assert client.post("/api/v1/projects/OTHER/members", json={"email": "x@example.test", "role": "member"},
                           headers=factory.headers(other)).status_code == 202  # another caller goes on
