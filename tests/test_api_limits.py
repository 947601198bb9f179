"""The API rate limit cannot be dodged with made-up tokens: failed authentication (401s)
counts per client address, and an address over RATE_LIMIT_AUTH_FAILURES is refused before
any token is looked up, except for tokens this process has seen valid."""
import secrets

from sqlalchemy import event

from app.extensions import db
from app.ops.limits import api_counter
from tests.test_bad_input import assert_problem


def made_up():
    return {"Authorization": f"Bearer {secrets.token_urlsafe(32)}"}


def statements(request):
    seen = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = request()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return response, seen


def test_made_up_tokens_hit_a_wall_per_address(make_app, factory):
    app = make_app(RATE_LIMIT_API="1000/hour", RATE_LIMIT_AUTH_FAILURES="3/hour", TRUSTED_PROXIES=1)
    client = app.test_client()
    with app.app_context():
        seen_valid = factory.headers(factory.user())
        assert client.get("/api/v1/projects", headers=seen_valid).status_code == 200
        statuses = [client.get("/api/v1/projects", headers=made_up()).status_code for _ in range(3)]
        walled, queries = statements(lambda: client.get("/api/v1/projects", headers=made_up()))
        assert statuses == [401, 401, 401]
        problem = assert_problem(walled, 429)
        assert int(walled.headers["Retry-After"]) > 0 and "authentication" in problem["detail"]
        assert queries == []  # refused before any token was looked up
        assert client.get("/api/v1/projects").status_code == 429  # no token at all: the same wall
        assert client.get("/api/v1/projects", headers=factory.headers(factory.user())).status_code == 429
        assert client.get("/api/v1/projects", headers=seen_valid).status_code == 200  # verified here before
        elsewhere = client.get("/api/v1/projects", headers={**made_up(), "X-Forwarded-For": "203.0.113.9"})
        assert elsewhere.status_code == 401  # another client's address has its own count
        assert client.post("/api/v1/auth/tokens", json={"email": "x@example.test", "password": "x"}).status_code == 401


def test_a_token_that_fails_is_no_longer_let_through_the_wall(make_app, factory):
    app = make_app(RATE_LIMIT_AUTH_FAILURES="2/hour")
    client = app.test_client()
    with app.app_context():
        headers = factory.headers(factory.user())
        assert client.get("/api/v1/projects", headers=headers).status_code == 200
        assert client.delete("/api/v1/auth/tokens/current", headers=headers).status_code == 204
        assert [client.get("/api/v1/projects", headers=headers).status_code for _ in range(3)] == [401, 401, 429]


def test_failed_authentication_counts_are_shared_by_processes(make_app, factory, redis_url):
    first, second = (make_app(REDIS_URL=redis_url, RATE_LIMIT_AUTH_FAILURES="2/hour") for _ in range(2))
    for app, expected in [(first, 401), (second, 401), (first, 429), (second, 429)]:
        assert app.test_client().get("/api/v1/projects", headers=made_up()).status_code == expected
        for process in (first, second, first):
            api_counter(process).sync()
