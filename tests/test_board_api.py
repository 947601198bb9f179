"""What the board and the issue page read besides the plain API: comment counts on list
items, the seq a list shows (``Beacon-Seq``), and one issue's history (its events)."""
from tests.conftest import scalar
from tests.test_issue_pages import assert_reads_are_checked

LIST = "/api/v1/projects/WEB/issues"


def setup_project(factory):
    owner = factory.user("Owner")
    project = factory.project(owner, "WEB")
    return owner, project, factory.headers(owner)


def counts(client, headers, query=""):
    response = client.get(LIST + query, headers=headers)
    assert response.status_code == 200, response.json
    return {item["title"]: item["comment_count"] for item in response.json["items"]}


def test_list_items_carry_their_comment_count_and_the_cache_follows_it(client, factory):
    _owner, _project, headers = setup_project(factory)
    one = client.post(LIST, json={"title": "One"}, headers=headers).json
    client.post(LIST, json={"title": "Two"}, headers=headers)
    assert counts(client, headers) == {"One": 0, "Two": 0}
    first = client.post(f"/api/v1/issues/{one['id']}/comments", json={"body": "a"}, headers=headers).json
    client.post(f"/api/v1/issues/{one['id']}/comments", json={"body": "b"}, headers=headers)
    assert counts(client, headers) == {"One": 2, "Two": 0}  # the cached page was not served again
    client.delete(f"/api/v1/comments/{first['id']}", headers=headers)
    assert counts(client, headers) == {"One": 1, "Two": 0}
    assert counts(client, headers, "?limit=1&sort=created_at") == {"One": 1}
    # One issue and its events keep the shape of CONTRACT section 4: the count is the list's.
    assert "comment_count" not in client.get(f"/api/v1/issues/{one['id']}", headers=headers).json


def test_a_list_says_the_seq_of_the_project_it_shows(client, factory):
    _owner, project, headers = setup_project(factory)

    def seq_of(response):
        assert response.status_code == 200
        return int(response.headers["Beacon-Seq"])

    empty = seq_of(client.get(LIST, headers=headers))
    assert empty == scalar("SELECT last_event_seq FROM projects WHERE id = :id", id=project.id) == 1
    client.post(LIST, json={"title": "One"}, headers=headers)
    assert seq_of(client.get(LIST, headers=headers)) == seq_of(client.get(LIST, headers=headers)) == 2  # cached too
    assert seq_of(client.get(LIST + "?status=closed", headers=headers)) == 2


def test_a_list_read_while_changes_land_names_no_seq_it_cannot_vouch_for(app, client, factory, monkeypatch):
    """The seq must be the one the items show: a change that lands between reading the
    stamp and reading the rows makes the list read again, and a project that never holds
    still gets no header rather than a wrong one."""
    from app.issues import service

    _owner, project, headers = setup_project(factory)
    client.post(LIST, json={"title": "One"}, headers=headers)
    real = service.list_issues
    writes = []

    def list_while_writing(*args):
        if len(writes) < 1:  # one change lands during the first read
            writes.append(1)
            factory.issue(project, _owner, title="Landed meanwhile")
        return real(*args)

    monkeypatch.setattr(service, "list_issues", list_while_writing)
    response = client.get(LIST, headers=headers)
    assert [i["title"] for i in response.json["items"]] == ["Landed meanwhile", "One"]
    assert int(response.headers["Beacon-Seq"]) == 3

    def always_writing(*args):
        factory.issue(project, _owner, title="Busy")
        return real(*args)

    monkeypatch.setattr(service, "list_issues", always_writing)
    busy = client.get(LIST + "?limit=2", headers=headers)
    assert busy.status_code == 200 and "Beacon-Seq" not in busy.headers


def test_an_issue_history_is_its_own_events_oldest_first(client, factory):
    owner, project, headers = setup_project(factory)
    issue = client.post(LIST, json={"title": "Mine"}, headers=headers).json
    other = client.post(LIST, json={"title": "Other"}, headers=headers).json
    url = f"/api/v1/issues/{issue['id']}"
    client.patch(url, json={"status": "in_progress", "labels": ["ui"]}, headers=headers)
    client.patch(f"/api/v1/issues/{other['id']}", json={"status": "closed"}, headers=headers)
    comment = client.post(f"{url}/comments", json={"body": "Looking"}, headers=headers).json
    client.patch(f"/api/v1/comments/{comment['id']}", json={"body": "Looking now"}, headers=headers)
    client.post(f"/api/v1/issues/{other['id']}/comments", json={"body": "Elsewhere"}, headers=headers)

    history = client.get(f"{url}/events", headers=headers)
    assert history.status_code == 200, history.json
    items = history.json["items"]
    assert [e["type"] for e in items] == ["issue.created", "issue.updated", "comment.created", "comment.updated"]
    assert [e["seq"] for e in items] == sorted(e["seq"] for e in items)
    assert items[1]["data"]["changes"] == {"status": ["open", "in_progress"], "labels": [[], ["ui"]]}
    assert items[1]["actor_id"] == owner.id and items[1]["project"] == "WEB"
    feed = client.get("/api/v1/projects/WEB/events", headers=headers).json["items"]
    assert items == [e for e in feed if e["id"] in {i["id"] for i in items}]  # as the feed shows them

    first = client.get(f"{url}/events?limit=3", headers=headers).json
    rest = client.get(f"{url}/events?limit=3&cursor={first['next_cursor']}", headers=headers).json
    assert first["items"] + rest["items"] == items and rest["next_cursor"] is None
    assert client.get(f"{url}/events?limit=0", headers=headers).status_code == 422
    assert client.get(f"{url}/events?cursor=nope", headers=headers).status_code == 422
    assert_reads_are_checked(client, factory, project, headers, (f"{url}/events",))
    client.delete(url, headers=headers)
    assert client.get(f"{url}/events", headers=headers).status_code == 404


def test_an_issue_history_changes_as_soon_as_the_issue_does(client, factory):
    _owner, _project, headers = setup_project(factory)
    issue = client.post(LIST, json={"title": "Mine"}, headers=headers).json
    url = f"/api/v1/issues/{issue['id']}/events"
    assert [e["type"] for e in client.get(url, headers=headers).json["items"]] == ["issue.created"]
    client.patch(f"/api/v1/issues/{issue['id']}", json={"priority": "high"}, headers=headers)
    assert [e["type"] for e in client.get(url, headers=headers).json["items"]] == ["issue.created", "issue.updated"]


def test_the_board_reads_are_documented(client):
    spec = client.get("/api/v1/openapi.json").json
    listed = spec["paths"]["/api/v1/projects/{key}/issues"]["get"]["responses"]["200"]
    assert "Beacon-Seq" in listed["headers"]
    item = spec["components"]["schemas"]["IssueListItem"]
    assert item["properties"]["comment_count"]["type"] == "integer"
    history = spec["paths"]["/api/v1/issues/{issue_id}/events"]["get"]
    assert history["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/EventPage")

