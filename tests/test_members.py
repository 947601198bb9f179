"""Members: add, change role, remove; each a membership event and an audit entry."""
from tests.conftest import scalar


def test_add_change_and_remove_a_member(client, factory):
    owner, other = factory.user(), factory.user("Grace")
    factory.project(owner, "WEB")
    headers = factory.headers(owner)
    added = client.put(f"/api/v1/projects/WEB/members/{other.id}", json={"role": "member"}, headers=headers)
    assert added.status_code == 200
    assert added.json == {"user_id": other.id, "name": "Grace", "email": other.email, "role": "member"}
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
