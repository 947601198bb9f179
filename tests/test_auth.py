"""Sign-in, tokens and their end: revocation, expiry, deactivation, rate limits."""
import time
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
    # hours: a sliding window crossing its boundary mid-test weighs the earlier attempts less
    app = make_app(RATE_LIMIT_SIGNIN="100/hour;3/hour")
    client = app.test_client()
    with app.app_context():
        factory.user(email="ada@example.test")
        statuses = [sign_in(client, f"u{i}@example.test", "x").status_code for i in range(4)]
        assert statuses == [401, 401, 401, 429]


def sign_in_from(client, address, email, password=PASSWORD):
    return client.post("/api/v1/auth/tokens", json={"email": email, "password": password},
                       headers={"X-Forwarded-For": address})


def test_failures_from_other_addresses_slow_the_user_down_but_never_lock_them_out(make_app, factory):
    app = make_app(RATE_LIMIT_SIGNIN="3/hour;100/hour", TRUSTED_PROXIES=1, SIGNIN_BACKOFF_MAX_SECONDS=0.3)
    client = app.test_client()
    with app.app_context():
        factory.user(email="ada@example.test")
        attacker = [sign_in_from(client, "203.0.113.66", "ada@example.test", "guess").status_code for _ in range(4)]
        assert attacker == [401, 401, 401, 429]  # one address: 3 failures at this e-mail, as before
        for n in range(9):  # and from many more addresses
            assert sign_in_from(client, f"203.0.113.{n}", "ada@example.test", "guess").status_code == 401
        started = time.monotonic()
        owner = sign_in_from(client, "198.51.100.7", "ada@example.test")
        waited = time.monotonic() - started
        assert owner.status_code == 201  # a hard lock per e-mail said 429 here
        assert 0.3 <= waited < 2  # held back by the e-mail's backoff, at most its maximum
        assert sign_in_from(client, "203.0.113.66", "ada@example.test").status_code == 429  # still held


def test_the_backoff_starts_at_the_per_email_limit_and_grows_to_its_maximum(make_app, factory):
    from app.auth.throttle import backoff

    app = make_app(RATE_LIMIT_SIGNIN="2/hour;100/hour", TRUSTED_PROXIES=1, SIGNIN_BACKOFF_MAX_SECONDS=0.4)
    client = app.test_client()
    with app.app_context():
        factory.user(email="ada@example.test")
        waits = []
        for n in range(8):
            waits.append(round(backoff("ada@example.test"), 3))
            assert sign_in_from(client, f"203.0.113.{n}", "ada@example.test", "guess").status_code == 401
        assert waits == [0, 0, 0.1, 0.141, 0.2, 0.283, 0.4, 0.4]  # from the limit on, doubling every 2 failures
        assert backoff("other@example.test") == 0  # other e-mails are not slowed
