"""Every JSON response is written one way: compact, keys in the order the code gives them,
UTF-8 rather than ``\\u`` escapes, and a newline at the end (API items, cached pages,
problems, health, admin, analytics and the OpenAPI document alike)."""
import orjson

NAME = "Café ☕ 日本"


def assert_house_style(response):
    body = response.get_data()
    assert response.mimetype in ("application/json", "application/problem+json"), response.mimetype
    assert body.endswith(b"}\n") and not body.endswith(b"\n\n"), body[-20:]
    assert body == orjson.dumps(orjson.loads(body)) + b"\n", body[:200]  # compact, nothing escaped
    return orjson.loads(body)


def test_every_kind_of_json_response_has_one_style(client, factory):
    admin = factory.admin()
    headers = factory.headers(admin)
    project = factory.project(admin, "WEB", name=NAME)
    issue = factory.issue(project, admin, title=NAME)
    factory.comment(issue, admin, body=NAME)
    urls = ["/api/v1/projects/WEB", "/api/v1/projects", "/api/v1/projects/WEB/issues", f"/api/v1/issues/{issue.id}",
            f"/api/v1/issues/{issue.id}/comments", "/api/v1/projects/WEB/events", "/api/v1/admin/users",
            "/api/v1/analytics/overview", "/api/v1/search?q=Caf", "/healthz", "/readyz", "/api/v1/openapi.json"]
    for url in urls:
        for _twice in range(2):  # the second read of a cached page comes from the cache
            response = client.get(url, headers=headers)
            assert response.status_code == 200, (url, response.status_code)
            assert_house_style(response)
    one = assert_house_style(client.get("/api/v1/projects/WEB", headers=headers))
    assert list(one) == ["id", "key", "name", "description", "role", "created_at", "updated_at", "version"]
    assert NAME.encode() in client.get(f"/api/v1/issues/{issue.id}", headers=headers).get_data()


def test_problems_have_the_same_style_with_their_fields_in_rfc_order(client, factory):
    headers = factory.headers(factory.user())
    for response in (client.get("/api/v1/nothing-here"), client.get("/api/v1/projects"),
                     client.get("/api/v1/projects/NOPE", headers=headers),
                     client.post("/api/v1/projects", json={"key": "é"}, headers=headers),
                     client.post("/api/v1/projects", data="{", headers={**headers, "Content-Type": "application/json"})):
        problem = assert_house_style(response)
        assert list(problem)[:4] == ["type", "title", "status", "detail"], problem
