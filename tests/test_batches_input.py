"""Batch endpoints: bad input and the role matrix, each a problem+json 4xx that changes nothing."""
import pytest

from tests.conftest import scalar
from tests.support.batches import batches, create  # noqa: F401
from tests.test_bad_input import assert_problem

GOOD = {"mode": "best_effort", "operations": [create("t")]}
BIG = "x" * 70_000

# (body, error path expected)
INVALID = [
    ({}, "mode"),
    ({"mode": "fast", "operations": [create("t")]}, "mode"),
    ({"mode": "atomic"}, "operations"),
    ({"mode": "atomic", "operations": []}, "operations"),
    ({"mode": "atomic", "operations": "all"}, "operations"),
    ({"mode": "atomic", "dry_run": "maybe", "operations": [create("t")]}, "dry_run"),
    ({**GOOD, "priority": 1}, "priority"),
    ({"mode": "atomic", "operations": [7]}, "operations/0/_schema"),
    ({"mode": "atomic", "operations": [{"op": "merge", "resource": "issue"}]}, "operations/0/op"),
    ({"mode": "atomic", "operations": [{"op": "create", "resource": "project"}]}, "operations/0/resource"),
    ({"mode": "atomic", "operations": [{"op": "delete", "resource": "comment", "id": 1}]}, "operations/0/resource"),
    ({"mode": "atomic", "operations": [create("t"), {"op": "create", "resource": "issue"}]}, "operations/1/data"),
    ({"mode": "atomic", "operations": [{"op": "create", "resource": "issue", "data": "x"}]}, "operations/0/data"),
    ({"mode": "atomic", "operations": [create("t"), create("")]}, "operations/1/data/title"),
    ({"mode": "atomic", "operations": [create("t", priority="low"), create("u"), create("", priority="low")]},
     "operations/2/data/title"),
    ({"mode": "atomic", "operations": [create("x" * 201)]}, "operations/0/data/title"),
    ({"mode": "atomic", "operations": [create("t", description=BIG)]}, "operations/0/data/description"),
    ({"mode": "atomic", "operations": [create("t", status="done")]}, "operations/0/data/status"),
    ({"mode": "atomic", "operations": [create("t", assignee_id="3")]}, "operations/0/data/assignee_id"),
    ({"mode": "atomic", "operations": [create("t", labels=["x" * 51])]}, "operations/0/data/labels/0"),
    ({"mode": "atomic", "operations": [create("t", project="web")]}, "operations/0/data/project"),
    ({"mode": "atomic", "operations": [create("t", reporter_id=1)]}, "operations/0/data/reporter_id"),
    ({"mode": "atomic", "operations": [{**create("t"), "lid": ""}]}, "operations/0/lid"),
    ({"mode": "atomic", "operations": [{**create("t"), "lid": 7}]}, "operations/0/lid"),
    ({"mode": "atomic", "operations": [{**create("t"), "colour": "red"}]}, "operations/0/colour"),
    ({"mode": "atomic", "operations": [{"op": "delete", "resource": "issue", "id": 1, "lid": "a"}]}, "operations/0/id"),
    ({"mode": "atomic", "operations": [create("t", lid="a"), create("u", lid="a")]}, "operations/1/lid"),
    ({"mode": "atomic", "operations": [{"op": "create", "resource": "comment", "data": {"body": "b"}}]},
     "operations/0/data/issue_id"),
    ({"mode": "atomic", "operations": [{"op": "create", "resource": "comment",
                                        "data": {"issue_id": 1, "body": ""}}]}, "operations/0/data/body"),
    ({"mode": "atomic", "operations": [{"op": "create", "resource": "comment",
                                        "data": {"issue_lid": "later", "body": "b"}}, create("t", lid="later")]},
     "operations/0/data/issue_lid"),
    ({"mode": "atomic", "operations": [{"op": "update", "resource": "issue", "id": 1, "data": {}}]},
     "operations/0/data/_schema"),
    ({"mode": "atomic", "operations": [{"op": "update", "resource": "issue", "data": {"title": "t"}}]},
     "operations/0/id"),
    ({"mode": "atomic", "operations": [{"op": "update", "resource": "issue", "id": "1", "data": {"title": "t"}}]},
     "operations/0/id"),
    ({"mode": "atomic", "operations": [{"op": "update", "resource": "issue", "id": 1, "if_version": 0,
                                        "data": {"title": "t"}}]}, "operations/0/if_version"),
    ({"mode": "atomic", "operations": [{"op": "update", "resource": "issue", "id": 1,
                                        "data": {"status": None}}]}, "operations/0/data/status"),
    ({"mode": "atomic", "operations": [{"op": "delete", "resource": "issue", "lid": "nowhere"}]}, "operations/0/lid"),
    ({"mode": "atomic", "operations": [{"op": "delete", "resource": "issue", "id": 1, "data": {}}]},
     "operations/0/data"),
]


@pytest.fixture
def world(factory):
    owner = factory.user("Owner")
    project = factory.project(owner, "WEB")
    return factory.headers(owner), project


def snapshot():
    return tuple(scalar(f"SELECT COUNT(*) FROM {t}") for t in ("batches", "batch_results", "issues", "events"))


@pytest.mark.parametrize("body,path", INVALID, ids=[p for _, p in INVALID])
def test_invalid_batch_is_422_keyed_by_path(client, world, body, path):
    headers, _project = world
    before = snapshot()
    body = assert_problem(client.post("/api/v1/batches", json=body, headers=headers), 422)
    assert path in body["errors"], body["errors"]
    assert snapshot() == before


def test_every_bad_operation_is_reported_at_once(client, world):
    headers, _project = world
    ops = [create("ok"), create(""), create("ok"), {"op": "x"}, create("t", priority="urgent")]
    errors = assert_problem(client.post("/api/v1/batches", json={"mode": "atomic", "operations": ops},
                                        headers=headers), 422)["errors"]
    assert {"operations/1/data/title", "operations/3/op", "operations/3/resource",
            "operations/4/data/priority"} <= set(errors)
    assert not any(k.startswith(("operations/0", "operations/2")) for k in errors)


def test_malformed_json_and_too_many_operations(client, world, app, monkeypatch):
    headers, _project = world
    before = snapshot()
    response = client.post("/api/v1/batches", data='{"mode": ', headers=headers, content_type="application/json")
    assert_problem(response, 400)
    monkeypatch.setitem(app.config, "BATCH_MAX_OPERATIONS", 5)
    body = assert_problem(client.post("/api/v1/batches", json={"mode": "atomic", "operations": [create("t")] * 6},
                                      headers=headers), 413)
    assert "at most 5" in body["detail"]
    assert client.post("/api/v1/batches", json={"mode": "atomic", "operations": [create("t")] * 5},
                       headers=headers).status_code == 202
    assert_problem(client.post("/api/v1/batches", json=GOOD, headers={**headers, "Idempotency-Key": "k" * 201}), 422)
    assert snapshot()[0] == before[0] + 1


def test_oversized_request_is_413(client, world, app, monkeypatch):
    headers, _project = world
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 10_000)
    big = {"mode": "atomic", "operations": [create("t", description="d" * 5000)] * 3}
    assert_problem(client.post("/api/v1/batches", json=big, headers=headers), 413)
    assert snapshot()[0] == 0


@pytest.mark.parametrize("method,url", [("POST", "/api/v1/batches"), ("GET", "/api/v1/batches"),
                                        ("GET", "/api/v1/batches/{id}"), ("GET", "/api/v1/batches/{id}/results"),
                                        ("POST", "/api/v1/batches/{id}/cancel")])
@pytest.mark.parametrize("auth", ["none", "bad", "revoked"])
def test_every_endpoint_needs_a_valid_token(client, world, factory, method, url, auth):
    headers, _project = world
    batch_id = client.post("/api/v1/batches", json=GOOD, headers=headers).json["id"]
    if auth == "revoked":
        user = factory.user()
        bad = factory.headers(user)
        client.delete("/api/v1/auth/tokens/current", headers=bad)
    else:
        bad = {} if auth == "none" else {"Authorization": "Bearer nope"}
    before = snapshot()
    assert_problem(client.open(url.format(id=batch_id), method=method, json=GOOD, headers=bad), 401)
    assert snapshot() == before


# role of the caller -> status for (read, results, cancel) of the owner's batch
ROLE_MATRIX = [("owner", 200, 200, 202), ("admin", 200, 200, 202), ("project maintainer", 404, 404, 404),
               ("stranger", 404, 404, 404)]


@pytest.mark.parametrize("role,read,results,cancel", ROLE_MATRIX, ids=[r[0] for r in ROLE_MATRIX])
def test_role_matrix_for_one_batch(client, world, factory, role, read, results, cancel):
    headers, project = world
    batch_id = client.post("/api/v1/batches", json=GOOD, headers=headers).json["id"]
    caller = {"owner": lambda: headers, "admin": lambda: factory.headers(factory.admin()),
              "project maintainer": lambda: factory.headers(factory.member(project, factory.user(), "maintainer")),
              "stranger": lambda: factory.headers(factory.user())}[role]()
    assert client.get(f"/api/v1/batches/{batch_id}", headers=caller).status_code == read
    assert client.get(f"/api/v1/batches/{batch_id}/results", headers=caller).status_code == results
    response = client.post(f"/api/v1/batches/{batch_id}/cancel", headers=caller)
    assert response.status_code == cancel
    assert scalar("SELECT cancel_requested FROM batches") == (cancel == 202)


@pytest.mark.parametrize("url", ["/api/v1/batches/999", "/api/v1/batches/999/results", "/api/v1/batches/0"])
def test_unknown_batch_is_404(client, world, url):
    headers, _project = world
    assert_problem(client.get(url, headers=headers), 404)
    assert_problem(client.post("/api/v1/batches/999/cancel", headers=headers), 404)


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=x", "cursor=%%%", "cursor=WzEsMl0"])
def test_bad_page_arguments_are_422(client, world, query):
    headers, _project = world
    batch_id = client.post("/api/v1/batches", json=GOOD, headers=headers).json["id"]
    for url in ("/api/v1/batches", f"/api/v1/batches/{batch_id}/results"):
        assert_problem(client.get(f"{url}?{query}", headers=headers), 422)


def test_viewer_submits_but_each_write_fails(batches, world, factory):
    _headers, project = world
    viewer = factory.headers(factory.member(project, factory.user(), "viewer"))
    batch, results = batches.run(viewer, [create("t")])
    assert batch["status"] == "failed" and "member role" in results[0]["error"]
    assert scalar("SELECT COUNT(*) FROM issues") == 0
