"""Comments: oldest first, edited by their author or a maintainer, each change an event."""


def test_comment_lifecycle_and_events(client, factory):
    owner = factory.user()
    project = factory.project(owner, "WEB")
    issue = factory.issue(project, owner)
    headers = factory.headers(owner)
    url = f"/api/v1/issues/{issue.id}/comments"
    first = client.post(url, json={"body": "first"}, headers=headers)
    client.post(url, json={"body": "second"}, headers=headers)
    assert first.status_code == 201 and first.headers["ETag"] == '"1"'
    assert [c["body"] for c in client.get(url, headers=headers).json["items"]] == ["first", "second"]
    edited = client.patch(f"/api/v1/comments/{first.json['id']}", json={"body": "first!"},
                          headers={**headers, "If-Match": '"1"'})
    assert edited.status_code == 200 and edited.json["version"] == 2
    stale = client.patch(f"/api/v1/comments/{first.json['id']}", json={"body": "lost"},
                         headers={**headers, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert client.delete(f"/api/v1/comments/{first.json['id']}", headers=headers).status_code == 204
    types = [e["type"] for e in client.get("/api/v1/projects/WEB/events", headers=headers).json["items"]]
    assert types[-4:] == ["comment.created", "comment.created", "comment.updated", "comment.deleted"]


def test_blank_comment_is_422(client, factory):
    owner = factory.user()
    issue = factory.issue(factory.project(owner, "WEB"), owner)
    response = client.post(f"/api/v1/issues/{issue.id}/comments", json={"body": "   "}, headers=factory.headers(owner))
    assert response.status_code == 422 and "body" in response.json["errors"]


def test_comment_pages(client, factory):
    owner = factory.user()
    issue = factory.issue(factory.project(owner, "WEB"), owner)
    for i in range(5):
        factory.comment(issue, owner, f"c{i}")
    headers = factory.headers(owner)
    page = client.get(f"/api/v1/issues/{issue.id}/comments?limit=2", headers=headers).json
    rest = client.get(f"/api/v1/issues/{issue.id}/comments?limit=10&cursor={page['next_cursor']}", headers=headers).json
    assert [c["body"] for c in page["items"] + rest["items"]] == [f"c{i}" for i in range(5)]
    assert rest["next_cursor"] is None
