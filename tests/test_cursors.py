"""Cursors the server did not issue are a 422 naming ``cursor`` on every keyset-paginated
list: wrong shapes, nulls, numbers beyond the column, strings for datetimes and the rest.
The cursors it does issue still walk every list."""
import base64
import json

import pytest

from tests.test_bad_input import assert_problem

DT = {"dt": "2020-01-01T00:00:00"}
GOOD = {"i": 1, "I": 1, "s": "A", "d": DT}  # one acceptable value per kind of key
BAD = {
    "i": [None, 2**31, -2**31 - 1, 2**63, 10**30, "1", 1.5, True, [1], DT],  # an INTEGER column
    "I": [None, 2**63, -2**63 - 1, 10**30, "1", 1.5, False, {"n": 1}],  # a BIGINT column
    "s": [None, 1, "a\u0000b", "a\ud800b", ["a"], DT, True],  # a string column
    "d": [None, "2020-01-01T00:00:00", 1, {"dt": "nope"}, {"dt": 5}, {"dt": None}, {"dt": "2020-01-01T00:00:00+05:00"},
          {"dt": "2020-01-01T00:00:00", "x": 1}, {}, [DT]],  # a datetime column
}

# Every keyset-paginated list, with the kinds of its sort keys in order.
LISTS = [
    ("/api/v1/projects", "s"),
    ("/api/v1/projects/WEB/members", "i"),
    ("/api/v1/projects/WEB/issues", "di"),
    ("/api/v1/projects/WEB/issues?sort=updated_at", "di"),
    ("/api/v1/projects/WEB/issues?sort=-priority", "ii"),
    ("/api/v1/issues/{issue}/comments", "di"),
    ("/api/v1/projects/WEB/events", "I"),
    ("/api/v1/search?q=t", "iii"),
    ("/api/v1/batches", "i"),
    ("/api/v1/batches/{batch}/results", "i"),
    ("/api/v1/admin/users", "i"),
    ("/api/v1/admin/audit", "I"),
    ("/api/v1/admin/backups", "s"),
]


def encode(value, raw=None):
    raw = raw if raw is not None else json.dumps(value).encode("utf-8", "surrogatepass")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def forged(kinds):
    """Cursors wrong for keys of these kinds: each value replaced in turn, and wrong shapes."""
    good = [GOOD[kind] for kind in kinds]
    for position, kind in enumerate(kinds):
        for bad in BAD[kind]:
            yield encode(good[:position] + [bad] + good[position + 1:])
    for value in (good[:-1], good + [1], [], [None] * len(kinds), {"0": good[0]}, None, "x", 7):
        yield encode(value)
    yield encode(None, raw=json.dumps(good).encode().replace(b'"A"', b'"\xed\xa0\x80"').replace(b"1", b"\xff"))
    yield encode(None, raw=b"[" * 700 + b"]" * 700)
    yield encode(None, raw=b"[1, 2")
    for text in ("!!!", "é", "A" * 1000, "=", " "):
        yield text


@pytest.fixture
def world(factory, client):
    admin = factory.admin()
    headers = factory.headers(admin)
    projects = [factory.project(admin, key) for key in ("WEB", "API")]
    factory.member(projects[0], factory.user())
    issues = [factory.issue(projects[0], admin, title=f"t{n}", priority="high") for n in range(3)]
    for n in range(3):
        factory.comment(issues[0], admin, body=f"c{n}")
    for _ in range(2):
        batch = client.post("/api/v1/batches", headers=headers, json={"mode": "best_effort", "operations": [
            {"op": "delete", "resource": "issue", "id": 999}]}).json
    client.patch(f"/api/v1/admin/users/{factory.user().id}", json={"active": False}, headers=headers)
    client.patch(f"/api/v1/admin/users/{factory.user().id}", json={"active": False}, headers=headers)
    return headers, {"issue": issues[0].id, "batch": batch["id"]}


@pytest.mark.parametrize("url,kinds", LISTS, ids=[u for u, _k in LISTS])
def test_a_cursor_the_server_did_not_issue_is_422(client, world, url, kinds):
    headers, ids = world
    url = url.format(**ids)
    for cursor in forged(kinds):
        response = client.get(url, query_string={"cursor": cursor}, headers=headers) if "?" not in url else \
            client.get(f"{url}&cursor={cursor}", headers=headers)
        problem = assert_problem(response, 422)
        assert list(problem["errors"]) == ["cursor"], (cursor, problem)


@pytest.mark.parametrize("url,kinds", [entry for entry in LISTS if "results" not in entry[0] and "backups" not in entry[0]],
                         ids=[u for u, _k in LISTS if "results" not in u and "backups" not in u])
def test_the_cursors_the_server_issues_walk_the_list(client, world, url, kinds):
    headers, ids = world
    url = url.format(**ids)
    everything = client.get(url, headers=headers).json["items"]
    assert len(everything) >= 2, url
    walked, cursor = [], None
    while True:
        page = client.get(url, headers=headers, query_string={"limit": 1, **({"cursor": cursor} if cursor else {})}) \
            if "?" not in url else client.get(f"{url}&limit=1" + (f"&cursor={cursor}" if cursor else ""),
                                              headers=headers)
        assert page.status_code == 200, page.json
        walked += page.json["items"]
        cursor = page.json["next_cursor"]
        if cursor is None:
            break
    assert walked == everything
