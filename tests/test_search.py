"""Search: projects, issues and comments the caller can read, best matches first."""


def test_search_ranks_title_matches_first_and_filters_types(client, factory):
    owner = factory.user()
    project = factory.project(owner, "WEB", name="Website")
    in_title = factory.issue(project, owner, title="Checkout button broken")
    in_body = factory.issue(project, owner, title="Payments", description="the checkout page hangs")
    comment = factory.comment(in_body, owner, "Seen again on checkout today")
    headers = factory.headers(owner)
    hits = client.get("/api/v1/search?q=checkout", headers=headers).json["items"]
    assert hits[0] == {"type": "issue", "id": in_title.id, "project": "WEB",
                       "title": "WEB-1: Checkout button broken", "snippet": "WEB-1: Checkout button broken"}
    assert {(h["type"], h["id"]) for h in hits[1:]} == {("issue", in_body.id), ("comment", comment.id)}
    assert "checkout" in hits[1]["snippet"].lower()
    only_comments = client.get("/api/v1/search?q=checkout&types=comment", headers=headers).json["items"]
    assert [h["id"] for h in only_comments] == [comment.id]
    projects = client.get("/api/v1/search?q=website&types=project", headers=headers).json["items"]
    assert [(h["type"], h["project"]) for h in projects] == [("project", "WEB")]


def test_search_pages_and_bad_arguments(client, factory):
    owner = factory.user()
    project = factory.project(owner, "WEB")
    for i in range(5):
        factory.issue(project, owner, title=f"flaky test {i}")
    headers = factory.headers(owner)
    page = client.get("/api/v1/search?q=flaky&limit=3", headers=headers).json
    rest = client.get(f"/api/v1/search?q=flaky&limit=3&cursor={page['next_cursor']}", headers=headers).json
    ids = [h["id"] for h in page["items"] + rest["items"]]
    assert len(ids) == len(set(ids)) == 5 and rest["next_cursor"] is None
    for query in ["", "q=", "q=x&types=user", "q=x&types=", "q=x&limit=0", f"q={'x' * 201}"]:
        assert client.get(f"/api/v1/search?{query}", headers=headers).status_code == 422, query
