"""The change feed: per-project seq without gaps, oldest first, after_seq and pages."""
from app.events.service import list_events


def test_feed_after_seq_and_pages(client, factory):
    owner = factory.user()
    project = factory.project(owner, "WEB")
    other = factory.project(owner, "API")
    for i in range(5):
        factory.issue(project, owner, title=f"w{i}")
        factory.issue(other, owner, title=f"a{i}")
    headers = factory.headers(owner)
    feed = client.get("/api/v1/projects/WEB/events", headers=headers).json["items"]
    assert [e["seq"] for e in feed] == [1, 2, 3, 4, 5, 6]
    assert {e["project"] for e in feed} == {"WEB"}
    first = feed[1]
    assert set(first) == {"id", "seq", "project", "type", "actor_id", "at", "data"}
    assert first["actor_id"] == owner.id and first["at"].endswith("Z") and first["data"]["issue"]["key"] == "WEB-1"
    after = client.get("/api/v1/projects/WEB/events?after_seq=4", headers=headers).json["items"]
    assert [e["seq"] for e in after] == [5, 6]
    page = client.get("/api/v1/projects/WEB/events?limit=4", headers=headers).json
    rest = client.get(f"/api/v1/projects/WEB/events?limit=4&cursor={page['next_cursor']}", headers=headers).json
    assert [e["seq"] for e in page["items"] + rest["items"]] == [1, 2, 3, 4, 5, 6]


def test_list_events_pages_the_feed_as_the_api_serves_it(client, factory):
    """The feed's query is the service's: the route only checks access and caches."""
    owner = factory.user()
    project = factory.project(owner, "WEB")
    for i in range(3):
        factory.issue(project, owner, title=f"w{i}")
    first = list_events(project.id, "WEB", 1, 2, None)
    rest = list_events(project.id, "WEB", 1, 2, first["next_cursor"])
    assert [e["seq"] for e in first["items"]] == [2, 3] and [e["seq"] for e in rest["items"]] == [4]
    assert rest["next_cursor"] is None and {e["project"] for e in first["items"]} == {"WEB"}
    served = client.get("/api/v1/projects/WEB/events?after_seq=1&limit=2", headers=factory.headers(owner)).json
    assert served == first


def test_project_update_event_and_bad_after_seq(client, factory):
    owner = factory.user()
    factory.project(owner, "WEB", name="Old")
    headers = factory.headers(owner)
    client.patch("/api/v1/projects/WEB", json={"name": "New"}, headers=headers)
    last = client.get("/api/v1/projects/WEB/events", headers=headers).json["items"][-1]
    assert last["type"] == "project.updated" and last["data"]["changes"] == {"name": ["Old", "New"]}
    assert client.get("/api/v1/projects/WEB/events?after_seq=-1", headers=headers).status_code == 422
    assert client.get("/api/v1/projects/WEB/events?after_seq=x", headers=headers).status_code == 422


def test_a_failing_broadcast_does_not_fail_the_committed_change(client, factory, monkeypatch, caplog):
    from app.realtime import sequencer

    def broken(*_args):
        raise ValueError("a bug in the broadcast")

    monkeypatch.setattr(sequencer, "send_in_order", broken)
    owner = factory.user()
    factory.project(owner, "WEB")
    headers = factory.headers(owner)
    response = client.post("/api/v1/projects/WEB/issues", json={"title": "kept"}, headers=headers)
    assert response.status_code == 201
    assert client.get(f"/api/v1/issues/{response.json['id']}", headers=headers).json["title"] == "kept"
    assert "broadcast of 1 events of WEB failed" in caplog.text
