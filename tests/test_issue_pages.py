"""The page cache (issue lists, an issue, its comments, the change feed): a cached page never
outlives the data or the access it shows."""
import pytest
from sqlalchemy import text

from app.page_cache import PageCache

LIST = "/api/v1/projects/WEB/issues"


@pytest.fixture
def setup(factory):
    owner = factory.user("Owner")
    project = factory.project(owner, "WEB")
    return owner, project, factory.headers(owner)


def titles(response):
    assert response.status_code == 200, response.json
    return [item["title"] for item in response.json["items"]]


def test_a_repeated_list_is_served_from_the_cache(client, setup, monkeypatch):
    from app.issues import service

    _owner, _project, headers = setup
    client.post(LIST, json={"title": "One"}, headers=headers)
    reads = []
    real = service.list_issues
    monkeypatch.setattr(service, "list_issues", lambda *args: reads.append(1) or real(*args))
    first = client.get(LIST, headers=headers)
    again = client.get(LIST, headers=headers)
    assert len(reads) == 1  # the second answer came from the cache
    assert again.data == first.data and again.mimetype == "application/json"


def test_every_kind_of_change_shows_at_once(client, setup):
    _owner, _project, headers = setup
    one = client.post(LIST, json={"title": "One"}, headers=headers).json
    assert titles(client.get(LIST, headers=headers)) == ["One"]
    client.post(LIST, json={"title": "Two"}, headers=headers)
    assert titles(client.get(LIST, headers=headers)) == ["Two", "One"]
    client.patch(f"/api/v1/issues/{one['id']}", json={"title": "Uno"}, headers=headers)
    assert titles(client.get(LIST, headers=headers)) == ["Two", "Uno"]
    client.delete(f"/api/v1/issues/{one['id']}", headers=headers)
    assert titles(client.get(LIST, headers=headers)) == ["Two"]


def test_a_change_through_another_process_shows_at_once(make_app, setup):
    """Two apps on one database stand for two server processes (or a server and a worker)."""
    _owner, _project, headers = setup
    here, elsewhere = make_app().test_client(), make_app().test_client()
    assert titles(here.get(LIST, headers=headers)) == []
    elsewhere.post(LIST, json={"title": "Elsewhere"}, headers=headers)
    assert titles(here.get(LIST, headers=headers)) == ["Elsewhere"]


def test_access_is_checked_even_when_the_page_is_cached(client, factory, setup):
    _owner, project, headers = setup
    reader = factory.member(project, factory.user(), "viewer")
    reader_headers = factory.headers(reader)
    assert client.get(LIST, headers=reader_headers).status_code == 200
    owner_headers = headers
    client.delete(f"/api/v1/projects/WEB/members/{reader.id}", headers=owner_headers)
    assert client.get(LIST, headers=reader_headers).status_code == 404
    assert client.get(LIST, headers=owner_headers).status_code == 200
    client.delete("/api/v1/auth/tokens/current", headers=owner_headers)
    assert client.get(LIST, headers=owner_headers).status_code == 401


def test_a_rewound_seq_does_not_bring_back_an_old_page(app, client, setup):
    """A restore can rewind a project's seq; the next change reuses that seq with other
    content, and the stamp (seq and event time) tells the two apart."""
    from app.extensions import db

    _owner, project, headers = setup
    client.post(LIST, json={"title": "Before"}, headers=headers)
    seq = db.session.execute(text("SELECT last_event_seq FROM projects WHERE id = :id"), {"id": project.id}).scalar()
    client.post(LIST, json={"title": "Lost"}, headers=headers)
    assert titles(client.get(LIST, headers=headers)) == ["Lost", "Before"]
    # Rewind as a restore would: the last issue and its event are gone, the seq is back.
    db.session.execute(text("DELETE FROM events WHERE project_id = :id AND seq > :seq"), {"id": project.id, "seq": seq})
    db.session.execute(text("DELETE FROM issues WHERE title = 'Lost'"))
    db.session.execute(text("UPDATE projects SET last_event_seq = :seq, last_issue_number = 1 WHERE id = :id"),
                       {"id": project.id, "seq": seq})
    db.session.commit()
    assert titles(client.get(LIST, headers=headers)) == ["Before"]
    client.post(LIST, json={"title": "After"}, headers=headers)  # takes the rewound seq again
    assert titles(client.get(LIST, headers=headers)) == ["After", "Before"]


def test_filters_and_pages_are_cached_apart(client, setup):
    _owner, _project, headers = setup
    for title, priority in (("Low", "low"), ("High", "high"), ("Mid", "medium")):
        client.post(LIST, json={"title": title, "priority": priority}, headers=headers)
    assert titles(client.get(f"{LIST}?priority=high", headers=headers)) == ["High"]
    assert titles(client.get(f"{LIST}?priority=low", headers=headers)) == ["Low"]
    first = client.get(f"{LIST}?limit=2", headers=headers).json
    second = client.get(f"{LIST}?limit=2&cursor={first['next_cursor']}", headers=headers)
    assert [i["title"] for i in first["items"]] + titles(second) == ["Mid", "High", "Low"]


def test_a_new_stamp_replaces_the_page_of_its_query():
    cache = PageCache()
    cache.put("q", (1, "t1"), b"old")
    cache.put("q", (2, "t2"), b"new!")
    assert cache.get("q", (1, "t1")) is None and cache.get("q", (2, "t2")) == (b"new!", None)
    assert len(cache.pages) == 1 and cache.size == 4


def test_the_cache_keeps_to_its_size():
    cache = PageCache(max_bytes=100)
    for n in range(5):
        cache.put(n, "s", b"x" * 30)
    assert cache.size <= 100 and list(cache.pages) == [2, 3, 4]
    assert cache.get(2, "s") == (b"x" * 30, None)  # now the most recent
    cache.put(5, "s", b"y" * 30)  # evicts the least recently used: 3
    assert list(cache.pages) == [4, 2, 5] and cache.size == 90
    cache.put(6, "s", b"z" * (2 * 1024 * 1024))  # too large to keep
    assert 6 not in cache.pages


def assert_reads_are_checked(client, factory, project, owner_headers, urls):
    """A viewer reads ``urls`` (and so fills the cache); a stranger gets 404, no token 401,
    and the viewer 404 once removed from the project."""
    reader = factory.member(project, factory.user(), "viewer")
    reader_headers, stranger_headers = factory.headers(reader), factory.headers(factory.user())
    for url in urls:
        assert client.get(url, headers=reader_headers).status_code == 200
        assert client.get(url, headers=stranger_headers).status_code == 404
        assert client.get(url).status_code == 401
    client.delete(f"/api/v1/projects/{project.key}/members/{reader.id}", headers=owner_headers)
    for url in urls:
        assert client.get(url, headers=reader_headers).status_code == 404


def test_one_issue_is_served_from_the_cache_until_it_changes(client, setup, monkeypatch):
    from app.issues import service

    _owner, _project, headers = setup
    issue = client.post(LIST, json={"title": "One", "labels": ["bug"]}, headers=headers).json
    reads = []
    real = service.checked_issue
    monkeypatch.setattr(service, "checked_issue", lambda *args: reads.append(1) or real(*args))
    url, by_key = f"/api/v1/issues/{issue['id']}", f"/api/v1/issues/by-key/{issue['key']}"
    first, again = client.get(url, headers=headers), client.get(url, headers=headers)
    keyed = client.get(by_key, headers=headers)
    assert len(reads) == 1 and again.data == first.data == keyed.data  # both ways share the page
    assert first.json == {**issue, "watching": True} and first.headers["ETag"] == '"1"' == keyed.headers["ETag"]
    changed = client.patch(url, json={"title": "Uno"}, headers={**headers, "If-Match": first.headers["ETag"]})
    assert changed.status_code == 200
    after = client.get(url, headers=headers)
    assert after.json == {**changed.json, "watching": True} and after.json["title"] == "Uno"
    assert after.headers["ETag"] == '"2"'
    client.post(LIST, json={"title": "Another issue of the project"}, headers=headers)  # a new stamp: read again
    assert client.get(by_key, headers=headers).json == {**changed.json, "watching": True} and len(reads) == 3


def test_access_to_one_issue_is_checked_even_when_it_is_cached(client, factory, setup):
    _owner, project, headers = setup
    issue = client.post(LIST, json={"title": "One"}, headers=headers).json
    url, by_key = f"/api/v1/issues/{issue['id']}", f"/api/v1/issues/by-key/{issue['key']}"
    assert_reads_are_checked(client, factory, project, headers, (url, by_key))
    assert client.get(by_key, headers=factory.headers(factory.admin())).status_code == 200
    for missing in ("/api/v1/issues/999999", "/api/v1/issues/by-key/WEB-999", "/api/v1/issues/by-key/NOPE-1",
                    "/api/v1/issues/by-key/WEB-x", "/api/v1/issues/by-key/WEB-99999999999", "/api/v1/issues/by-key/1",
                    "/api/v1/issues/by-key/WEB-²", f"/api/v1/issues/by-key/WEB-{'9' * 5000}", "/api/v1/issues/by-key/WEB-"):
        response = client.get(missing, headers=headers)
        assert response.status_code == 404 and response.mimetype == "application/problem+json", missing
    client.delete(url, headers=headers)
    assert client.get(url, headers=headers).status_code == 404


def test_comments_and_the_feed_are_served_from_the_cache_until_a_change(client, factory, setup, monkeypatch):
    from app.comments import service as comments
    from app.events import service as feed

    _owner, project, headers = setup
    issue = client.post(LIST, json={"title": "One"}, headers=headers).json
    comments_url, feed_url = f"/api/v1/issues/{issue['id']}/comments", "/api/v1/projects/WEB/events"
    client.post(comments_url, json={"body": "first"}, headers=headers)
    reads = []
    for module, name in ((comments, "list_comments"), (feed, "list_events")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *args, _real=real, _name=name: reads.append(_name) or _real(*args))

    def bodies():
        response = client.get(comments_url, headers=headers)
        assert response.status_code == 200, response.json
        return [c["body"] for c in response.json["items"]]

    def types(query=""):
        response = client.get(feed_url + query, headers=headers)
        assert response.status_code == 200, response.json
        return [e["type"] for e in response.json["items"]]

    assert bodies() == bodies() == ["first"] and types() == types()
    assert reads == ["list_comments", "list_events"]  # the second of each came from the cache
    assert types("?after_seq=2") != types()  # other arguments, another page
    comment = client.post(comments_url, json={"body": "second"}, headers=headers).json
    assert bodies() == ["first", "second"] and types()[-1] == "comment.created"
    client.patch(f"/api/v1/comments/{comment['id']}", json={"body": "2nd"}, headers=headers)
    assert bodies() == ["first", "2nd"] and types()[-1] == "comment.updated"

    assert_reads_are_checked(client, factory, project, headers, (comments_url, feed_url))
    assert client.get("/api/v1/issues/999999/comments", headers=headers).status_code == 404
