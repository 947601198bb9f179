"""Input the fuzzer found that once reached the database: ids too big for it, NUL characters
and lone surrogates. Each is a 4xx problem and changes nothing, on both engines."""
import pytest

from tests.test_bad_input import assert_problem, snapshot, world  # noqa: F401 (world: a fixture)

HUGE = 3522216945090447


@pytest.mark.parametrize("method,url", [("GET", "/api/v1/issues/{n}"), ("DELETE", "/api/v1/issues/{n}"),
                                        ("PATCH", "/api/v1/comments/{n}"), ("DELETE", "/api/v1/comments/{n}"),
                                        ("PUT", "/api/v1/projects/WEB/members/{n}"),
                                        ("PATCH", "/api/v1/admin/users/{n}")])
def test_ids_beyond_an_integer_column_are_404(client, factory, world, method, url):
    headers = factory.headers(factory.admin())
    before = snapshot()
    assert_problem(client.open(url.format(n=HUGE), method=method, json={"role": "member"}, headers=headers), 404)
    assert snapshot() == before


@pytest.mark.parametrize("body,field", [
    ({"title": "a\u0000b"}, "title"),
    ({"title": "ok", "description": "x\ud80fy"}, "description"),
    ({"title": "ok", "labels": ["fine", "bad\u0000"]}, "labels/1"),
])
def test_unstorable_characters_in_a_body_are_422(client, world, body, field):
    headers, _ids = world
    before = snapshot()
    problem = assert_problem(client.post("/api/v1/projects/WEB/issues", json=body, headers=headers), 422)
    assert field in problem["errors"]
    assert snapshot() == before


@pytest.mark.parametrize("url", ["/api/v1/projects/W%00B", "/api/v1/search?q=a%00b",
                                 "/api/v1/projects/WEB/issues?label=a%00"])
def test_nul_in_a_url_is_400(client, world, url):
    headers, _ids = world
    assert_problem(client.get(url, headers=headers), 400)


def test_error_responses_are_documented_as_problems(client):
    spec = client.get("/api/v1/openapi.json").json
    default = spec["components"]["responses"]["DEFAULT_ERROR"]["content"]
    assert list(default) == ["application/problem+json"]
    problem = spec["components"]["schemas"]["Problem"]["properties"]
    assert problem["status"]["type"] == "integer" and "detail" in problem


@pytest.mark.parametrize("method,url,body,field", [
    ("GET", "/api/v1/projects/WEB/events?after_seq=4155418256728705204224", None, "after_seq"),
    ("GET", "/api/v1/projects/WEB/issues?assignee_id=3522216945090447", None, "assignee_id"),
    ("POST", "/api/v1/projects/WEB/issues", {"title": "t", "assignee_id": 3522216945090447}, "assignee_id"),
    ("PATCH", "/api/v1/issues/{issue}", {"assignee_id": 2**31}, "assignee_id"),
])
def test_numbers_beyond_their_column_are_422(client, world, method, url, body, field):
    headers, ids = world
    before = snapshot()
    problem = assert_problem(client.open(url.format(**ids), method=method, json=body, headers=headers), 422)
    assert field in problem["errors"]
    assert snapshot() == before


@pytest.mark.backends("postgresql")  # SQLite serializes whole-database writes
def test_concurrent_patches_without_if_match_all_apply(app, factory):
    """Found by bench/load.py: two PATCHes of one issue at once made the second a 500
    (it updated the version it had read before the first committed)."""
    import threading

    from app.extensions import db

    owner = factory.user()
    project = factory.project(owner, "WEB")
    issue = factory.issue(project, owner)
    comment = factory.comment(issue, owner)
    headers = factory.headers(owner)
    db.session.remove()
    start, statuses = threading.Barrier(8, timeout=30), []

    def work(n):
        client = app.test_client()
        start.wait()
        for i in range(3):
            statuses.append(client.patch(f"/api/v1/issues/{issue.id}", json={"title": f"t{n}-{i}"},
                                         headers=headers).status_code)
            statuses.append(client.patch(f"/api/v1/comments/{comment.id}", json={"body": f"b{n}-{i}"},
                                         headers=headers).status_code)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [200] * 48
    from tests.conftest import scalar

    assert scalar("SELECT version FROM issues WHERE id = :i", i=issue.id) == 25
    assert scalar("SELECT version FROM comments WHERE id = :i", i=comment.id) == 25
