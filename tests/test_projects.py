"""Projects: create, list, read, change, delete."""


def test_create_project_makes_creator_maintainer(client, factory):
    user = factory.user()
    response = client.post("/api/v1/projects", json={"key": "WEB", "name": "Website"}, headers=factory.headers(user))
    assert response.status_code == 201
    assert response.json["key"] == "WEB"
    assert response.json["role"] == "maintainer"
    assert response.headers["ETag"] == '"1"'
    members = client.get("/api/v1/projects/WEB/members", headers=factory.headers(user)).json["items"]
    assert [(m["user_id"], m["role"]) for m in members] == [(user.id, "maintainer")]


def test_project_key_in_use_is_409(client, factory):
    user = factory.user()
    factory.project(user, "WEB")
    response = client.post("/api/v1/projects", json={"key": "WEB", "name": "Again"}, headers=factory.headers(user))
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"


def test_project_you_cannot_see_is_404(client, factory):
    owner, stranger = factory.user(), factory.user()
    factory.project(owner, "WEB")
    response = client.get("/api/v1/projects/WEB", headers=factory.headers(stranger))
    assert response.status_code == 404
