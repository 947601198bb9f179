"""Issues: numbering, defaults, changes with history, filters, sort, search, pagination."""
import pytest

from tests.conftest import scalar


@pytest.fixture
def setup(factory):
    owner = factory.user("Owner")
    project = factory.project(owner, "WEB")
    return owner, project, factory.headers(owner)


def test_new_issue_is_open_medium_and_numbered(client, setup):
    _owner, _project, headers = setup
    first = client.post("/api/v1/projects/WEB/issues", json={"title": "One"}, headers=headers)
    second = client.post("/api/v1/projects/WEB/issues", json={"title": "Two", "priority": "high"}, headers=headers)
    assert first.status_code == 201
    assert (first.json["key"], first.json["status"], first.json["priority"]) == ("WEB-1", "open", "medium")
    assert (second.json["key"], second.json["number"], second.json["priority"]) == ("WEB-2", 2, "high")
    assert first.json["project"] == "WEB" and first.json["labels"] == [] and first.json["resolved_at"] is None
    assert first.headers["ETag"] == '"1"'


def test_numbers_are_per_project(client, factory, setup):
    owner, _project, headers = setup
    factory.project(owner, "API")
    client.post("/api/v1/projects/WEB/issues", json={"title": "w"}, headers=headers)
    api = client.post("/api/v1/projects/API/issues", json={"title": "a"}, headers=headers)
    assert api.json["key"] == "API-1"


def test_status_change_sets_resolved_at_and_records_history(client, setup):
    _owner, _project, headers = setup
    issue = client.post("/api/v1/projects/WEB/issues", json={"title": "t"}, headers=headers).json
    resolved = client.patch(f"/api/v1/issues/{issue['id']}", json={"status": "resolved"}, headers=headers).json
    assert resolved["resolved_at"] is not None and resolved["version"] == 2
    closed = client.patch(f"/api/v1/issues/{issue['id']}", json={"status": "closed"}, headers=headers).json
    assert closed["resolved_at"] == resolved["resolved_at"]
    reopened = client.patch(f"/api/v1/issues/{issue['id']}", json={"status": "open"}, headers=headers).json
    assert reopened["resolved_at"] is None
    history = scalar("SELECT COUNT(*) FROM issue_status_changes WHERE issue_id = :i", i=issue["id"])
    assert history == 4  # created (None -> open), resolved, closed, reopened


def test_update_event_carries_changes(client, setup):
    _owner, _project, headers = setup
    issue = client.post("/api/v1/projects/WEB/issues", json={"title": "old"}, headers=headers).json
    client.patch(f"/api/v1/issues/{issue['id']}", json={"title": "new", "labels": ["b", "a"]}, headers=headers)
    events = client.get("/api/v1/projects/WEB/events", headers=headers).json["items"]
    update = events[-1]
    assert update["type"] == "issue.updated"
    assert update["data"]["changes"] == {"title": ["old", "new"], "labels": [[], ["a", "b"]]}
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_patch_without_changes_writes_no_event(client, setup):
    _owner, _project, headers = setup
    issue = client.post("/api/v1/projects/WEB/issues", json={"title": "same"}, headers=headers).json
    response = client.patch(f"/api/v1/issues/{issue['id']}", json={"title": "same"}, headers=headers)
    assert response.json["version"] == 1
    assert scalar("SELECT COUNT(*) FROM events WHERE type = 'issue.updated'") == 0


def test_stale_if_match_is_412_and_changes_nothing(client, setup):
    _owner, _project, headers = setup
    issue = client.post("/api/v1/projects/WEB/issues", json={"title": "t"}, headers=headers).json
    client.patch(f"/api/v1/issues/{issue['id']}", json={"title": "u"}, headers={**headers, "If-Match": '"1"'})
    stale = client.patch(f"/api/v1/issues/{issue['id']}", json={"title": "v"}, headers={**headers, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert client.get(f"/api/v1/issues/{issue['id']}", headers=headers).json["title"] == "u"
    for odd in ('"²"', f'"{"9" * 5000}"', '"1.0"', '"-1"', '""'):
        response = client.patch(f"/api/v1/issues/{issue['id']}", json={"title": "w"},
                                headers={**headers, "If-Match": odd})
        assert response.status_code == 412 and response.mimetype == "application/problem+json", odd
    assert client.get(f"/api/v1/issues/{issue['id']}", headers=headers).json["title"] == "u"


def test_assignee_must_be_a_member(client, factory, setup):
    _owner, project, headers = setup
    outsider, member = factory.user(), factory.user()
    factory.member(project, member, "member")
    bad = client.post("/api/v1/projects/WEB/issues", json={"title": "t", "assignee_id": outsider.id}, headers=headers)
    assert bad.status_code == 422 and "assignee_id" in bad.json["errors"]
    good = client.post("/api/v1/projects/WEB/issues", json={"title": "t", "assignee_id": member.id}, headers=headers)
    assert good.status_code == 201 and good.json["assignee_id"] == member.id


def test_get_by_key_and_delete(client, setup):
    _owner, _project, headers = setup
    issue = client.post("/api/v1/projects/WEB/issues", json={"title": "t"}, headers=headers).json
    assert client.get("/api/v1/issues/by-key/WEB-1", headers=headers).json["id"] == issue["id"]
    assert client.get("/api/v1/issues/by-key/WEB-2", headers=headers).status_code == 404
    assert client.delete(f"/api/v1/issues/{issue['id']}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/issues/{issue['id']}", headers=headers).status_code == 404
    assert client.get("/api/v1/projects/WEB/events", headers=headers).json["items"][-1]["type"] == "issue.deleted"


def _titles(client, headers, query):
    response = client.get(f"/api/v1/projects/WEB/issues?{query}", headers=headers)
    assert response.status_code == 200, response.json
    return [item["title"] for item in response.json["items"]]


def test_filters_sort_and_text_search(client, factory, setup):
    owner, project, headers = setup
    factory.issue(project, owner, title="low login", priority="low", labels=["bug"])
    factory.issue(project, owner, title="critical crash", priority="critical", description="on login page")
    factory.issue(project, owner, title="high export", priority="high", status="in_progress", assignee_id=owner.id)
    factory.issue(project, owner, title="100% width", priority="medium")
    assert _titles(client, headers, "sort=-priority") == ["critical crash", "high export", "100% width", "low login"]
    assert _titles(client, headers, "sort=priority")[0] == "low login"
    assert _titles(client, headers, "sort=created_at") == ["low login", "critical crash", "high export", "100% width"]
    assert _titles(client, headers, "")[0] == "100% width"  # default: newest first
    assert _titles(client, headers, "status=in_progress") == ["high export"]
    assert _titles(client, headers, f"assignee_id={owner.id}") == ["high export"]
    assert _titles(client, headers, "label=bug") == ["low login"]
    assert _titles(client, headers, "priority=critical") == ["critical crash"]
    assert sorted(_titles(client, headers, "q=LOGIN")) == ["critical crash", "low login"]
    assert _titles(client, headers, "q=%25") == ["100% width"]  # % is literal, not a wildcard


def test_keyset_pages_cover_everything_once(client, factory, setup):
    owner, project, headers = setup
    for i in range(7):
        factory.issue(project, owner, title=f"issue {i}", priority=["low", "high"][i % 2])
    for sort in ("-created_at", "priority", "-priority", "updated_at"):
        seen, cursor = [], None
        while True:
            url = f"/api/v1/projects/WEB/issues?limit=3&sort={sort}" + (f"&cursor={cursor}" if cursor else "")
            page = client.get(url, headers=headers).json
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(set(seen)) and len(seen) == 7, sort


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=x", "cursor=%%%", "cursor=bm90LWpzb24",
                                   "status=done", "priority=urgent", "sort=title", "assignee_id=abc"])
def test_bad_list_arguments_are_422(client, setup, query):
    _owner, _project, headers = setup
    response = client.get(f"/api/v1/projects/WEB/issues?{query}", headers=headers)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
