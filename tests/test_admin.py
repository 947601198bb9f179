"""The admin API: users, the audit log, jobs and performance, with its access matrix and bad input."""
import pytest

from tests.conftest import scalar
from tests.test_bad_input import assert_problem

ENDPOINTS = [
    ("GET", "/api/v1/admin/users", None),
    ("POST", "/api/v1/admin/users", {"email": "new@example.test", "name": "New", "password": "long enough"}),
    ("GET", "/api/v1/admin/users/{user}", None),
    ("PATCH", "/api/v1/admin/users/{user}", {"active": False}),
    ("GET", "/api/v1/admin/audit", None),
    ("GET", "/api/v1/admin/jobs", None),
    ("GET", "/api/v1/admin/jobs/some-job", None),
    ("POST", "/api/v1/admin/jobs/some-job/requeue", None),
    ("GET", "/api/v1/admin/performance", None),
]


def counts():
    return (scalar("SELECT COUNT(*) FROM users"), scalar("SELECT COUNT(*) FROM audit_log"),
            scalar("SELECT COUNT(*) FROM users WHERE active"), scalar("SELECT COUNT(*) FROM users WHERE is_admin"),
            scalar("SELECT COUNT(*) FROM api_tokens WHERE revoked_at IS NULL"))


@pytest.mark.parametrize("caller,status", [("anonymous", 401), ("bad token", 401), ("user", 403),
                                           ("inactive admin", 401)])
@pytest.mark.parametrize("method,url,body", ENDPOINTS, ids=[f"{m} {u}" for m, u, _ in ENDPOINTS])
def test_only_admins_may_call_admin_endpoints(client, factory, caller, status, method, url, body):
    target = factory.user("Target")
    headers = {"anonymous": {}, "bad token": {"Authorization": "Bearer nope"},
               "user": factory.headers(factory.user()),
               "inactive admin": {"Authorization": f"Bearer {factory.token(factory.admin())}"}}[caller]
    if caller == "inactive admin":
        from app.extensions import db
        from app.models import User

        db.session.execute(db.update(User).where(User.is_admin.is_(True)).values(active=False))
        db.session.commit()
    before = counts()
    response = client.open(url.format(user=target.id), method=method, json=body, headers=headers)
    assert_problem(response, status)
    assert counts() == before


def test_admin_creates_lists_and_reads_users(client, factory):
    admin = factory.admin("Boss")
    headers = factory.headers(admin)
    response = client.post("/api/v1/admin/users", headers={**headers, "X-Request-ID": "req-create-1"},
                           json={"email": " Ada@Example.test ", "name": "Ada", "password": "long enough",
                                 "is_admin": True})
    assert response.status_code == 201, response.json
    created = response.json
    assert created["email"] == "ada@example.test" and created["is_admin"] and created["active"]
    assert response.headers["ETag"] == '"1"'
    signed_in = client.post("/api/v1/auth/tokens", json={"email": "ada@example.test", "password": "long enough"})
    assert signed_in.status_code == 201
    assert client.get(f"/api/v1/admin/users/{created['id']}", headers=headers).json == created
    audit = client.get("/api/v1/admin/audit?action=user.created", headers=headers).json["items"]
    assert audit[0]["actor_id"] == admin.id and audit[0]["target_id"] == str(created["id"])
    assert audit[0]["request_id"] == "req-create-1"
    duplicate = client.post("/api/v1/admin/users", headers=headers,
                            json={"email": "ADA@example.test", "name": "Ada 2", "password": "long enough"})
    assert_problem(duplicate, 409)
    factory.user("Bob")
    page = client.get("/api/v1/admin/users?limit=2", headers=headers).json
    rest = client.get(f"/api/v1/admin/users?limit=2&cursor={page['next_cursor']}", headers=headers).json
    assert [u["name"] for u in page["items"] + rest["items"]] == ["Boss", "Ada", "Bob"]
    assert rest["next_cursor"] is None
    admins = client.get("/api/v1/admin/users?is_admin=true", headers=headers).json["items"]
    assert [u["name"] for u in admins] == ["Boss", "Ada"]
    assert [u["name"] for u in client.get("/api/v1/admin/users?q=bo", headers=headers).json["items"]] == [
        "Boss", "Bob"]


def test_deactivation_revokes_tokens_and_reactivation_lets_them_sign_in(client, factory):
    admin, user = factory.admin(), factory.user(email="worker@example.test")
    headers, user_headers = factory.headers(admin), factory.headers(user)
    assert client.get("/api/v1/projects", headers=user_headers).status_code == 200
    response = client.patch(f"/api/v1/admin/users/{user.id}", json={"active": False}, headers=headers)
    assert response.status_code == 200 and response.json["active"] is False
    assert response.headers["ETag"] == '"2"'
    assert_problem(client.get("/api/v1/projects", headers=user_headers), 401)
    assert scalar("SELECT COUNT(*) FROM api_tokens WHERE user_id = :u AND revoked_at IS NULL", u=user.id) == 0
    from tests.support.factory import PASSWORD

    sign_in = {"email": "worker@example.test", "password": PASSWORD}
    assert_problem(client.post("/api/v1/auth/tokens", json=sign_in), 401)
    assert client.patch(f"/api/v1/admin/users/{user.id}", json={"active": True, "is_admin": True},
                        headers=headers).json["is_admin"] is True
    assert client.post("/api/v1/auth/tokens", json=sign_in).status_code == 201
    actions = [e["action"] for e in client.get(f"/api/v1/admin/audit?target_type=user&target_id={user.id}",
                                                headers=headers).json["items"]]
    assert sorted(actions) == ["user.activated", "user.admin_granted", "user.deactivated"]
    assert actions[-1] == "user.deactivated"  # newest first
    prefixed = client.get("/api/v1/admin/audit?action=user.&actor_id=" + str(admin.id), headers=headers).json
    assert len(prefixed["items"]) == 3


def test_the_last_admin_stays_and_no_admin_deactivates_themself(client, factory):
    admin = factory.admin()
    headers = factory.headers(admin)
    before = counts()
    assert_problem(client.patch(f"/api/v1/admin/users/{admin.id}", json={"is_admin": False}, headers=headers), 409)
    assert_problem(client.patch(f"/api/v1/admin/users/{admin.id}", json={"active": False}, headers=headers), 409)
    assert counts() == before
    other = factory.admin()
    assert_problem(client.patch(f"/api/v1/admin/users/{admin.id}", json={"active": False}, headers=headers), 409)
    response = client.patch(f"/api/v1/admin/users/{admin.id}", json={"is_admin": False}, headers=headers)
    assert response.status_code == 200 and response.json["is_admin"] is False
    assert_problem(client.get("/api/v1/admin/users", headers=headers), 403)
    other_headers = factory.headers(other)
    assert_problem(client.patch(f"/api/v1/admin/users/{other.id}", json={"is_admin": False},
                                headers=other_headers), 409)


def test_a_failed_deactivation_changes_nothing(client, factory, monkeypatch):
    """The user row, the audit entry and the token revocation commit together or not at all."""
    from app.admin import service

    admin, user = factory.admin(), factory.user()
    headers = factory.headers(admin)
    factory.token(user)
    before = counts()

    def broken(_user_id):
        raise RuntimeError("disk full")

    monkeypatch.setattr(service, "revoke_user_tokens", broken)
    response = client.patch(f"/api/v1/admin/users/{user.id}", json={"active": False}, headers=headers)
    assert_problem(response, 500)
    assert "disk full" not in response.get_data(as_text=True)
    assert counts() == before
    assert scalar("SELECT active FROM users WHERE id = :u", u=user.id) in (True, 1)


BAD_USERS = [
    ({"name": "x", "password": "long enough"}, "email"),
    ({"email": "x@example.test", "password": "long enough"}, "name"),
    ({"email": "x@example.test", "name": "x"}, "password"),
    ({"email": "not an e-mail", "name": "x", "password": "long enough"}, "email"),
    ({"email": 7, "name": "x", "password": "long enough"}, "email"),
    ({"email": "x@example.test", "name": ["x"], "password": "long enough"}, "name"),
    ({"email": "x@example.test", "name": "x", "password": "short"}, "password"),
    ({"email": "x@example.test", "name": "x" * 101, "password": "long enough"}, "name"),
    ({"email": "x" * 250 + "@example.test", "name": "x", "password": "long enough"}, "email"),
    ({"email": "x@example.test", "name": "x", "password": "p" * 201}, "password"),
    ({"email": "x@example.test", "name": "x", "password": "long enough", "is_admin": "yes"}, "is_admin"),
    ({"email": "x@example.test", "name": "x", "password": "long enough", "role": "admin"}, "role"),
]
BAD_PATCHES = [({}, "_schema"), ({"active": "false"}, "active"), ({"active": 0}, "active"),
               ({"is_admin": None}, "is_admin"), ({"email": "new@example.test"}, "email"), ([True], "_schema")]


@pytest.mark.parametrize("body,field", BAD_USERS)
def test_bad_new_users_are_422_and_change_nothing(client, factory, body, field):
    headers = factory.headers(factory.admin())
    before = counts()
    problem = assert_problem(client.post("/api/v1/admin/users", json=body, headers=headers), 422)
    assert field in problem["errors"]
    assert counts() == before


@pytest.mark.parametrize("body,field", BAD_PATCHES)
def test_bad_user_patches_are_422_and_change_nothing(client, factory, body, field):
    headers, user = factory.headers(factory.admin()), factory.user()
    before = counts()
    problem = assert_problem(client.patch(f"/api/v1/admin/users/{user.id}", json=body, headers=headers), 422)
    assert field in problem["errors"]
    assert counts() == before


@pytest.mark.parametrize("method,url,body", [m for m in ENDPOINTS if m[2] is not None])
def test_malformed_json_is_400(client, factory, method, url, body):
    headers, user = factory.headers(factory.admin()), factory.user()
    before = counts()
    response = client.open(url.format(user=user.id), method=method, data='{"active": ',
                           headers={**headers, "Content-Type": "application/json"})
    assert_problem(response, 400)
    assert counts() == before


def test_unknown_ids_stale_versions_and_bad_queries(client, factory):
    headers, user = factory.headers(factory.admin()), factory.user()
    before = counts()
    assert_problem(client.get("/api/v1/admin/users/999999", headers=headers), 404)
    assert_problem(client.patch("/api/v1/admin/users/999999", json={"active": False}, headers=headers), 404)
    assert_problem(client.patch(f"/api/v1/admin/users/{user.id}", json={"active": False},
                                headers={**headers, "If-Match": '"7"'}), 412)
    assert_problem(client.get("/api/v1/admin/jobs/no-such-job", headers=headers), 404)
    assert_problem(client.post("/api/v1/admin/jobs/no-such-job/requeue", headers=headers), 404)
    for bad_id in ("0..0", "a:b", "x" * 129, "%C3%85"):
        assert_problem(client.get(f"/api/v1/admin/jobs/{bad_id}", headers=headers), 404)
    for query in ("limit=0", "limit=201", "cursor=%%%", "action=DROP TABLE", "actor_id=abc", "actor_id=0",
                  "target_id=" + "x" * 65):
        assert_problem(client.get(f"/api/v1/admin/audit?{query}", headers=headers), 422)
    for query in ("active=maybe", "limit=-1", "q=" + "x" * 101):
        assert_problem(client.get(f"/api/v1/admin/users?{query}", headers=headers), 422)
    assert counts() == before


def test_audit_is_keyset_paginated_newest_first_and_covers_memberships(client, factory):
    admin = factory.admin()
    headers = factory.headers(admin)
    project = factory.project(admin, "WEB")
    users = [factory.user() for _ in range(3)]
    for user in users:
        assert client.put(f"/api/v1/projects/WEB/members/{user.id}", json={"role": "member"},
                          headers=headers).status_code == 200
    assert client.delete(f"/api/v1/projects/WEB/members/{users[0].id}", headers=headers).status_code == 204
    seen, cursor = [], None
    while True:
        page = client.get("/api/v1/admin/audit?limit=2&target_type=project" + (f"&cursor={cursor}" if cursor else ""),
                          headers=headers).json
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [e["action"] for e in seen] == ["member.removed", "member.added", "member.added", "member.added"]
    assert [e["id"] for e in seen] == sorted((e["id"] for e in seen), reverse=True)
    assert seen[0]["data"] == {"user_id": users[0].id, "role": "member"} and seen[0]["target_id"] == project.key
