"""Sign-in, tokens and their end: revocation, expiry, deactivation, rate limits."""
from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import ApiToken
from tests.support.factory import PASSWORD


def sign_in(client, email, password=PASSWORD):
    return client.post("/api/v1/auth/tokens", json={"email": email, "password": password})


def test_sign_in_returns_a_token_once_stored_hashed(client, factory):
    user = factory.user(email="ada@example.test")
    response = sign_in(client, "ADA@example.test")  # e-mail matches regardless of case
    assert response.status_code == 201
    body = response.json
    assert body["user"]["id"] == user.id and body["expires_at"].endswith("Z")
    stored = db.session.scalars(select(ApiToken.token_hash)).all()
    assert body["token"] not in stored and len(stored) == 1 and len(stored[0]) == 64
    assert client.get("/api/v1/projects", headers={"Authorization": f"Bearer {body['token']}"}).status_code == 200


def test_wrong_password_and_unknown_email_say_the_same(client, factory):
    factory.user(email="ada@example.test")
    wrong = sign_in(client, "ada@example.test", "nope")
    unknown = sign_in(client, "who@example.test")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json["detail"] == unknown.json["detail"]


def test_deactivated_user_cannot_sign_in_and_gets_the_same_message(client, factory):
    factory.user(email="gone@example.test", active=False)
    factory.user(email="here@example.test")
    inactive = sign_in(client, "gone@example.test")
    wrong = sign_in(client, "here@example.test", "bad password")
    assert inactive.status_code == 401 and inactive.json["detail"] == wrong.json["detail"]


def test_revoked_token_is_401_at_once(client, factory):
    headers = factory.headers(factory.user())
    assert client.delete("/api/v1/auth/tokens/current", headers=headers).status_code == 204
    assert client.get("/api/v1/projects", headers=headers).status_code == 401


def test_expired_token_is_401(client, factory):
    headers = factory.headers(factory.user())
    for token in db.session.scalars(select(ApiToken)):
        token.expires_at -= timedelta(days=365)
    db.session.commit()
    assert client.get("/api/v1/projects", headers=headers).status_code == 401


def test_token_of_a_deactivated_user_is_401(client, factory):
    user = factory.user()
    headers = factory.headers(user)
    user.active = False
    db.session.commit()
    assert client.get("/api/v1/projects", headers=headers).status_code == 401


def test_malformed_authorization_headers_are_401(client, factory):
    factory.user()
    for value in ["", "Bearer", "Basic abc", "Bearer " + "x" * 5000, "bearer nonsense"]:
        response = client.get("/api/v1/projects", headers={"Authorization": value})
        assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"


def test_failed_sign_ins_per_email_are_rate_limited(make_app, factory):
    app = make_app(RATE_LIMIT_SIGNIN="3/minute;100/minute")
    client = app.test_client()
    with app.app_context():
        factory.user(email="ada@example.test")
        statuses = [sign_in(client, "ada@example.test", "wrong").status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        limited = sign_in(client, "ada@example.test")
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
        assert limited.mimetype == "application/problem+json"
        assert sign_in(client, "other@example.test", "wrong").status_code == 401  # other e-mails go on


def test_successful_sign_ins_do_not_use_up_the_failure_budget(make_app, factory):
    app = make_app(RATE_LIMIT_SIGNIN="2/minute;100/minute")
    client = app.test_client()
    with app.app_context():
        factory.user(email="ada@example.test")
        assert [sign_in(client, "ada@example.test").status_code for _ in range(4)] == [201] * 4


def test_attempts_per_address_are_rate_limited(make_app, factory):
    app = make_app(RATE_LIMIT_SIGNIN="100/minute;3/minute")
    client = app.test_client()
    with app.app_context():
        factory.user(email="ada@example.test")
        statuses = [sign_in(client, f"u{i}@example.test", "x").status_code for i in range(4)]
        assert statuses == [401, 401, 401, 429]
