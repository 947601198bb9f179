"""The OpenAPI document is generated from the same schemas and covers every API route."""
import re


def test_every_api_route_is_documented_with_its_schemas(app, client):
    spec = client.get("/api/v1/openapi.json").json
    documented = {(path, method.upper()) for path, item in spec["paths"].items() for method in item
                  if method in {"get", "post", "put", "patch", "delete"}}
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule.endswith("openapi.json"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        routes |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes - documented == set()
    create_issue = spec["paths"]["/api/v1/projects/{key}/issues"]["post"]
    assert "requestBody" in create_issue and "201" in create_issue["responses"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_responses_match_their_documented_schemas(client, factory):
    """Views send the services' dicts as they are: each must load with its schema, no key more or less."""
    from app.auth.schemas import TokenOutput
    from app.comments.routes import CommentPage
    from app.comments.schemas import CommentOutput
    from app.events.routes import EventPage
    from app.issues.routes import IssuePage
    from app.issues.schemas import IssueRead
    from app.notifications.routes import NotificationPage
    from app.notifications.schemas import MeOutput, UnreadCount
    from app.projects.routes import MemberPage, ProjectPage
    from app.projects.schemas import MemberInviteOutput, MemberOutput, ProjectOutput
    from app.search.routes import SearchPage
    from tests.support.factory import PASSWORD

    owner = factory.user(email="owner@example.test")
    project = factory.project(owner, "WEB")
    issue = factory.issue(project, owner, labels=["bug"])
    comment = factory.comment(issue, owner)
    headers = factory.headers(owner)
    token = client.post("/api/v1/auth/tokens", json={"email": "owner@example.test", "password": PASSWORD}).json
    checks = [
        (TokenOutput, token),
        (ProjectOutput, client.get("/api/v1/projects/WEB", headers=headers).json),
        (ProjectPage, client.get("/api/v1/projects", headers=headers).json),
        (MemberPage, client.get("/api/v1/projects/WEB/members", headers=headers).json),
        (MemberOutput, client.put(f"/api/v1/projects/WEB/members/{owner.id}", json={"role": "maintainer"},
                                  headers=headers).json),
        (MemberInviteOutput, client.post("/api/v1/projects/WEB/members",
                                         json={"email": "x@example.test", "role": "viewer"}, headers=headers).json),
        (IssueRead, client.get(f"/api/v1/issues/{issue.id}", headers=headers).json),
        (IssuePage, client.get("/api/v1/projects/WEB/issues", headers=headers).json),
        (CommentOutput, client.get(f"/api/v1/issues/{issue.id}/comments", headers=headers).json["items"][0]),
        (CommentPage, client.get(f"/api/v1/issues/{issue.id}/comments", headers=headers).json),
        (EventPage, client.get("/api/v1/projects/WEB/events", headers=headers).json),
        (SearchPage, client.get("/api/v1/search?q=issue", headers=headers).json),
        (MeOutput, client.get("/api/v1/me", headers=headers).json),
        (UnreadCount, client.get("/api/v1/notifications/unread-count", headers=headers).json),
        (NotificationPage, client.get("/api/v1/notifications", headers=headers).json),
    ]
    for schema, body in checks:
        schema().load(body)  # raises on an extra or mistyped field
        assert set(body) == set(schema().fields), schema  # and no field is missing
    assert comment.id == checks[8][1]["id"]
