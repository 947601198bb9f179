"""Who may do what: role (none, viewer, member, maintainer, admin) x action x status."""
import pytest
from flask import g

from app.auth.permissions import load_project
from app.errors import Problem

ROLES = ["none", "viewer", "member", "maintainer", "admin"]
RANK = {role: rank for rank, role in enumerate(ROLES)}

# (name, method, url template, body, least role, status on success)
ACTIONS = [
    ("read project", "GET", "/api/v1/projects/WEB", None, "viewer", 200),
    ("rename project", "PATCH", "/api/v1/projects/WEB", {"name": "Renamed"}, "maintainer", 200),
    ("delete project", "DELETE", "/api/v1/projects/WEB", None, "maintainer", 204),
    ("list members", "GET", "/api/v1/projects/WEB/members", None, "viewer", 200),
    ("add member", "PUT", "/api/v1/projects/WEB/members/{target}", {"role": "viewer"}, "maintainer", 200),
    ("add member by e-mail", "POST", "/api/v1/projects/WEB/members", {"email": "new@example.test", "role": "viewer"},
     "maintainer", 202),
    ("remove member", "DELETE", "/api/v1/projects/WEB/members/{target}", None, "maintainer", 204),
    ("create issue", "POST", "/api/v1/projects/WEB/issues", {"title": "New"}, "member", 201),
    ("list issues", "GET", "/api/v1/projects/WEB/issues", None, "viewer", 200),
    ("read issue", "GET", "/api/v1/issues/{issue}", None, "viewer", 200),
    ("read issue by key", "GET", "/api/v1/issues/by-key/WEB-1", None, "viewer", 200),
    ("edit issue", "PATCH", "/api/v1/issues/{issue}", {"status": "in_progress"}, "member", 200),
    ("delete issue", "DELETE", "/api/v1/issues/{issue}", None, "maintainer", 204),
    ("comment", "POST", "/api/v1/issues/{issue}/comments", {"body": "hi"}, "member", 201),
    ("list comments", "GET", "/api/v1/issues/{issue}/comments", None, "viewer", 200),
    ("edit another's comment", "PATCH", "/api/v1/comments/{comment}", {"body": "x"}, "maintainer", 200),
    ("delete another's comment", "DELETE", "/api/v1/comments/{comment}", None, "maintainer", 204),
    ("read events", "GET", "/api/v1/projects/WEB/events", None, "viewer", 200),
]


def expected_status(role, least, success):
    if RANK[role] >= RANK[least]:
        return success
    return 404 if role == "none" else 403


@pytest.fixture
def world(factory):
    owner = factory.user("Owner")
    project = factory.project(owner, "WEB")
    target = factory.member(project, factory.user("Target"), "viewer")
    issue = factory.issue(project, owner)
    comment = factory.comment(issue, owner)
    return project, {"target": target.id, "issue": issue.id, "comment": comment.id}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name,method,url,body,least,success", ACTIONS, ids=[a[0] for a in ACTIONS])
def test_role_matrix(client, factory, world, role, name, method, url, body, least, success):
    project, ids = world
    headers = factory.role_headers(project, role)
    response = client.open(url.format(**ids), method=method, json=body, headers=headers)
    assert response.status_code == expected_status(role, least, success), response.get_json()


@pytest.mark.parametrize("name,method,url,body,least,success", ACTIONS, ids=[a[0] for a in ACTIONS])
def test_no_token_is_401(client, world, name, method, url, body, least, success):
    _project, ids = world
    response = client.open(url.format(**ids), method=method, json=body)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_comment_author_may_edit_own_comment_but_viewer_author_may_not(client, factory, world):
    project, ids = world
    author = factory.member(project, factory.user(), "member")
    from app.issues.service import load_issue

    comment = factory.comment(load_issue(ids["issue"], author), author)
    headers = factory.headers(author)
    assert client.patch(f"/api/v1/comments/{comment.id}", json={"body": "edited"}, headers=headers).status_code == 200
    from app.extensions import db
    from app.models import Membership

    db.session.get(Membership, (project.id, author.id)).role = "viewer"
    db.session.commit()
    assert client.patch(f"/api/v1/comments/{comment.id}", json={"body": "again"}, headers=headers).status_code == 403


def test_lists_show_only_readable_projects(client, factory):
    alice, bob, admin = factory.user(), factory.user(), factory.admin()
    factory.project(alice, "ALPHA")
    factory.project(bob, "BETA")
    keys = lambda user: [p["key"] for p in client.get("/api/v1/projects", headers=factory.headers(user)).json["items"]]
    assert keys(alice) == ["ALPHA"]
    assert keys(bob) == ["BETA"]
    assert keys(admin) == ["ALPHA", "BETA"]


def test_search_never_crosses_projects(client, factory):
    alice, bob = factory.user(), factory.user()
    alpha, beta = factory.project(alice, "ALPHA"), factory.project(bob, "BETA")
    factory.comment(factory.issue(alpha, alice, title="secret alpha plan"), alice, "secret note")
    factory.issue(beta, bob, title="secret beta plan")
    hits = client.get("/api/v1/search?q=secret", headers=factory.headers(bob)).json["items"]
    assert [(h["type"], h["project"]) for h in hits] == [("issue", "BETA")]


@pytest.mark.parametrize("role,needed,outcome", [
    ("none", "viewer", 404), ("viewer", "viewer", None), ("viewer", "member", 403), ("member", "member", None),
    ("member", "maintainer", 403), ("maintainer", "maintainer", None), ("admin", "maintainer", None)])
def test_load_project_takes_the_actor_outside_any_request(app, factory, role, needed, outcome):
    """A job or a GraphQL resolver calls ``load_project`` with the actor it has: no request,
    no bearer token, no ``flask.g``."""
    owner = factory.user("Owner")
    project = factory.project(owner, "WEB")
    actor = factory.admin() if role == "admin" else factory.user()
    if role not in ("none", "admin"):
        factory.member(project, actor, role)
    assert "user" not in g
    if outcome is None:
        assert load_project("WEB", actor, needed).id == project.id
    else:
        with pytest.raises(Problem) as raised:
            load_project("WEB", actor, needed)
        assert raised.value.status == outcome
    assert "user" not in g
