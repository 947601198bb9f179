"""Bad input gets a clear problem+json 4xx and changes nothing, endpoint by endpoint."""
import pytest

from tests.conftest import scalar

BIG = "x" * 70_000

# (name, method, url, good body) for every endpoint that takes a JSON body
WRITES = [
    ("sign in", "POST", "/api/v1/auth/tokens", {"email": "a@b.c", "password": "pw"}),
    ("create project", "POST", "/api/v1/projects", {"key": "NEW", "name": "New"}),
    ("patch project", "PATCH", "/api/v1/projects/WEB", {"name": "Renamed"}),
    ("put member", "PUT", "/api/v1/projects/WEB/members/{other}", {"role": "member"}),
    ("add member by e-mail", "POST", "/api/v1/projects/WEB/members", {"email": "a@b.example", "role": "member"}),
    ("create issue", "POST", "/api/v1/projects/WEB/issues", {"title": "T"}),
    ("patch issue", "PATCH", "/api/v1/issues/{issue}", {"title": "T2"}),
    ("create comment", "POST", "/api/v1/issues/{issue}/comments", {"body": "B"}),
    ("patch comment", "PATCH", "/api/v1/comments/{comment}", {"body": "B2"}),
]

# (url, bad body, field expected in errors)
INVALID = [
    ("/api/v1/projects", {"key": "web", "name": "x"}, "key"),
    ("/api/v1/projects", {"key": "TOOLONGKEYXX", "name": "x"}, "key"),
    ("/api/v1/projects", {"key": "NEW"}, "name"),
    ("/api/v1/projects", {"key": 12, "name": "x"}, "key"),
    ("/api/v1/projects", {"key": "NEW", "name": "x", "color": "red"}, "color"),
    ("/api/v1/projects", {"key": "NEW", "name": "x" * 101}, "name"),
    ("/api/v1/projects/WEB/issues", {}, "title"),
    ("/api/v1/projects/WEB/issues", {"title": ""}, "title"),
    ("/api/v1/projects/WEB/issues", {"title": "x" * 201}, "title"),
    ("/api/v1/projects/WEB/issues", {"title": "t", "description": BIG}, "description"),
    ("/api/v1/projects/WEB/issues", {"title": "t", "status": "done"}, "status"),
    ("/api/v1/projects/WEB/issues", {"title": "t", "priority": 3}, "priority"),
    ("/api/v1/projects/WEB/issues", {"title": "t", "assignee_id": "7"}, "assignee_id"),
    ("/api/v1/projects/WEB/issues", {"title": "t", "labels": "bug"}, "labels"),
    ("/api/v1/projects/WEB/issues", {"title": "t", "labels": ["x" * 51]}, "labels/0"),
    ("/api/v1/projects/WEB/issues", {"title": "t", "labels": [str(i) for i in range(21)]}, "labels"),
    ("/api/v1/projects/WEB/issues", {"title": "t", "reporter_id": 1}, "reporter_id"),
    ("/api/v1/issues/{issue}", {"status": None}, "status"),
    ("/api/v1/issues/{issue}", {"version": 9}, "version"),
    ("/api/v1/issues/{issue}/comments", {"body": ""}, "body"),
    ("/api/v1/issues/{issue}/comments", {"body": BIG}, "body"),
    ("/api/v1/issues/{issue}/comments", {"body": ["x"]}, "body"),
    ("/api/v1/projects/WEB/members/{other}", {"role": "owner"}, "role"),
    ("/api/v1/projects/WEB/members/{other}", {}, "role"),
]
METHOD = {"/api/v1/projects": "POST", "/api/v1/projects/WEB/issues": "POST", "/api/v1/issues/{issue}": "PATCH",
          "/api/v1/issues/{issue}/comments": "POST", "/api/v1/projects/WEB/members/{other}": "PUT"}


@pytest.fixture
def world(factory):
    owner = factory.user("Owner")
    project = factory.project(owner, "WEB")
    other = factory.user("Other")
    issue = factory.issue(project, owner)
    comment = factory.comment(issue, owner)
    return factory.headers(owner), {"other": other.id, "issue": issue.id, "comment": comment.id}


def snapshot():
    return tuple(scalar(f"SELECT COUNT(*) FROM {t}") for t in
                 ("projects", "memberships", "issues", "comments", "events", "issue_labels", "audit_log")) + (
        scalar("SELECT MAX(version) FROM issues"), scalar("SELECT MAX(version) FROM comments"))


def assert_problem(response, status):
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == status
    assert "Traceback" not in response.get_data(as_text=True)
    return body


@pytest.mark.parametrize("name,method,url,body", WRITES, ids=[w[0] for w in WRITES])
def test_malformed_json_is_400(client, world, name, method, url, body):
    headers, ids = world
    before = snapshot()
    response = client.open(url.format(**ids), method=method, data='{"title": "x",',
                           headers={**headers, "Content-Type": "application/json"})
    assert_problem(response, 400)
    assert snapshot() == before


@pytest.mark.parametrize("name,method,url,body", WRITES, ids=[w[0] for w in WRITES])
def test_non_object_json_is_422(client, world, name, method, url, body):
    headers, ids = world
    before = snapshot()
    response = client.open(url.format(**ids), method=method, json=["not", "an", "object"], headers=headers)
    assert_problem(response, 422)
    assert snapshot() == before


@pytest.mark.parametrize("url,body,field", INVALID)
def test_invalid_fields_are_422_with_the_field_named(client, world, url, body, field):
    headers, ids = world
    before = snapshot()
    response = client.open(url.format(**ids), method=METHOD[url], json=body, headers=headers)
    problem = assert_problem(response, 422)
    assert field in problem["errors"], problem["errors"]
    assert snapshot() == before


def test_body_over_the_size_limit_is_413(make_app, factory):
    app = make_app(MAX_CONTENT_LENGTH=1024)
    client = app.test_client()
    with app.app_context():
        owner = factory.user()
        factory.project(owner, "WEB")
        headers = factory.headers(owner)
        before = snapshot()
        response = client.post("/api/v1/projects/WEB/issues", json={"title": "t", "description": "x" * 2000},
                               headers=headers)
        assert_problem(response, 413)
        assert snapshot() == before


@pytest.mark.parametrize("method,url", [
    ("GET", "/api/v1/projects/NOPE"), ("GET", "/api/v1/projects/NOPE/issues"),
    ("GET", "/api/v1/issues/999999"), ("PATCH", "/api/v1/issues/999999"), ("DELETE", "/api/v1/issues/999999"),
    ("GET", "/api/v1/issues/by-key/WEB-999"), ("GET", "/api/v1/issues/by-key/garbage"),
    ("GET", "/api/v1/issues/999999/comments"), ("PATCH", "/api/v1/comments/999999"),
    ("DELETE", "/api/v1/comments/999999"), ("PUT", "/api/v1/projects/WEB/members/999999"),
    ("DELETE", "/api/v1/projects/WEB/members/999999"), ("GET", "/api/v1/projects/NOPE/events"),
    ("GET", "/api/v1/issues/2147483648"), ("GET", f"/api/v1/issues/{'9' * 5000}"), ("GET", "/api/v1/issues/٣"),
    ("DELETE", f"/api/v1/comments/{'9' * 5000}"),
])
def test_unknown_ids_are_404(client, world, method, url):
    headers, _ids = world
    body = {"role": "member"} if method == "PUT" else ({"title": "x", "body": "x"} if method == "PATCH" else None)
    if url.startswith("/api/v1/comments") and method == "PATCH":
        body = {"body": "x"}
    if url.startswith("/api/v1/issues") and method == "PATCH":
        body = {"title": "x"}
    before = snapshot()
    assert_problem(client.open(url, method=method, json=body, headers=headers), 404)
    assert snapshot() == before


def test_ids_of_another_project_are_404(client, factory, world):
    _headers, ids = world
    stranger = factory.user()
    factory.project(stranger, "OTHER")
    headers = factory.headers(stranger)
    before = snapshot()
    for method, url, body in [("GET", f"/api/v1/issues/{ids['issue']}", None),
                              ("PATCH", f"/api/v1/issues/{ids['issue']}", {"title": "mine"}),
                              ("POST", f"/api/v1/issues/{ids['issue']}/comments", {"body": "mine"}),
                              ("PATCH", f"/api/v1/comments/{ids['comment']}", {"body": "mine"}),
                              ("DELETE", f"/api/v1/comments/{ids['comment']}", None),
                              ("GET", "/api/v1/issues/by-key/WEB-1", None)]:
        assert_problem(client.open(url, method=method, json=body, headers=headers), 404)
    assert snapshot() == before


def test_a_project_keeps_a_maintainer(client, factory, world):
    headers, _ids = world
    owner_id = client.get("/api/v1/projects/WEB/members", headers=headers).json["items"][0]["user_id"]
    before = snapshot()
    assert_problem(client.put(f"/api/v1/projects/WEB/members/{owner_id}", json={"role": "viewer"}, headers=headers), 422)
    assert_problem(client.delete(f"/api/v1/projects/WEB/members/{owner_id}", headers=headers), 422)
    assert snapshot() == before


def test_a_500_shows_no_internals(make_app, monkeypatch, factory):
    app = make_app()
    client = app.test_client()
    with app.app_context():
        headers = factory.headers(factory.user())
        from app.projects import service

        def explode(*_args, **_kwargs):
            raise RuntimeError("SELECT secret FROM internals")

        monkeypatch.setattr(service, "list_projects", explode)
        response = client.get("/api/v1/projects", headers=headers)
        body = assert_problem(response, 500)
        assert "secret" not in response.get_data(as_text=True) and "RuntimeError" not in body["detail"]


BODY_WRITES = WRITES + [("batch", "POST", "/api/v1/batches", {"mode": "atomic", "operations": [
    {"op": "create", "resource": "issue", "data": {"project": "WEB", "title": "T"}}]})]


def _with_title(body, raw):
    """``body`` as JSON bytes with its first string field's value replaced by ``raw``."""
    import json

    text = json.dumps(body)
    first = next(iter(body))
    if first == "mode":
        return text.replace('"title": "T"', '"title": ' + raw).encode("utf-8", "surrogatepass")
    return text.replace(f'"{first}": {json.dumps(body[first])}', f'"{first}": ' + raw, 1).encode(
        "utf-8", "surrogatepass")


@pytest.mark.parametrize("token", [True, False], ids=["token", "no token"])
@pytest.mark.parametrize("name,method,url,body", BODY_WRITES, ids=[w[0] for w in BODY_WRITES])
def test_json_nested_deeper_than_64_levels_is_400(client, world, name, method, url, body, token):
    headers, ids = world
    before = snapshot()
    for raw in ("[" * 10_000 + "]" * 10_000, "[" * 100_000, '{"a":' * 65 + "1" + "}" * 65):
        response = client.open(url.format(**ids), method=method, data=_with_title(body, raw),
                               headers={**(headers if token else {}), "Content-Type": "application/json"})
        assert_problem(response, 400)
    assert snapshot() == before


def test_json_nested_64_levels_or_with_brackets_in_strings_is_parsed(client, world):
    headers, _ids = world
    deep = '{"a":' * 63 + "1" + "}" * 63  # with the body's own object: 64 levels
    response = client.post("/api/v1/projects/WEB/issues", data='{"title": "t", "labels": ' + deep + "}",
                           headers={**headers, "Content-Type": "application/json"})
    assert_problem(response, 422)  # read, then refused by the schema: labels is a list of strings
    title = '"' + "[{" * 45 + '\\"' + "}]" * 45 + '"'
    response = client.post("/api/v1/projects/WEB/issues", data='{"title": ' + title + "}",
                           headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 201 and response.json["title"].startswith("[{[{")


@pytest.mark.parametrize("token", [True, False], ids=["token", "no token"])
@pytest.mark.parametrize("name,method,url,body", BODY_WRITES, ids=[w[0] for w in BODY_WRITES])
def test_an_encoded_surrogate_in_a_body_is_400(client, world, name, method, url, body, token):
    """Raw bytes ED A0 80 (U+D800 encoded as if it were a character) are not UTF-8."""
    headers, ids = world
    before = snapshot()
    data = _with_title(body, '"a\ud800b"')
    assert b"\xed\xa0\x80" in data
    response = client.open(url.format(**ids), method=method, data=data,
                           headers={**(headers if token else {}), "Content-Type": "application/json"})
    assert "UTF-8" in assert_problem(response, 400)["detail"]
    assert snapshot() == before


def test_a_body_is_never_read_again_by_a_later_request(client, world):
    """Found by the fuzzer: a request without a JSON body was given the body of the request
    before it (kept in ``g``, which outlives a request inside a pushed app context)."""
    headers, _ids = world
    assert client.post("/api/v1/projects", json={"key": "ONE", "name": "One"}, headers=headers).status_code == 201
    for data, content_type in [(b"", "application/json"), (b'{"key": "ONE", "name": "One"}', "text/plain")]:
        problem = assert_problem(client.post("/api/v1/projects", data=data, headers={
            **headers, "Content-Type": content_type}), 422)
        assert set(problem["errors"]) == {"key", "name"}  # missing: no body was read
