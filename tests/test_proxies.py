"""Behind TRUSTED_PROXIES load balancers, the client's address, scheme and host come from
their X-Forwarded-* headers (rate limits, logs, the Socket.IO origin check); with none
(the default), those headers change nothing."""
import pytest

from tests.support.factory import PASSWORD

CLIENTS = ("203.0.113.1", "203.0.113.2")


def sign_in(client, via, email="ada@example.test", password="wrong"):
    return client.post("/api/v1/auth/tokens", json={"email": email, "password": password},
                       headers={"X-Forwarded-For": via}).status_code


def test_each_client_behind_a_trusted_proxy_has_its_own_sign_in_budget(make_app, factory):
    app = make_app(RATE_LIMIT_SIGNIN="100/minute;2/minute", TRUSTED_PROXIES=1)
    client = app.test_client()
    with app.app_context():
        factory.user(email="ada@example.test")
        assert [sign_in(client, CLIENTS[0]) for _ in range(3)] == [401, 401, 429]
        assert sign_in(client, CLIENTS[1], password=PASSWORD) == 201  # another client of the same proxy


def test_without_trusted_proxies_a_forwarded_address_is_ignored(make_app, factory):
    app = make_app(RATE_LIMIT_SIGNIN="100/minute;2/minute")
    client = app.test_client()
    with app.app_context():
        factory.user(email="ada@example.test")
        assert [sign_in(client, via) for via in ("198.51.100.1", "198.51.100.2", "198.51.100.3")] == [401, 401, 429]


def test_only_as_many_forwarded_addresses_as_there_are_proxies_are_trusted(make_app, factory):
    app = make_app(RATE_LIMIT_SIGNIN="100/minute;2/minute", TRUSTED_PROXIES=1)
    client = app.test_client()
    with app.app_context():
        factory.user(email="ada@example.test")
        # A client that sends its own X-Forwarded-For: the proxy appends the address it saw.
        spoofed = [sign_in(client, f"10.0.0.{n}, {CLIENTS[0]}") for n in range(3)]
        assert spoofed == [401, 401, 429]


def test_request_logs_name_the_client_behind_the_proxy(make_app, factory, caplog):
    app = make_app(TRUSTED_PROXIES=1)
    client = app.test_client()
    with app.app_context():
        client.get("/healthz", headers={"X-Forwarded-For": CLIENTS[0]})
    (line,) = [r for r in caplog.records if r.name == "beacon.request"]
    assert line.remote_addr == CLIENTS[0]


@pytest.mark.parametrize("trusted,headers,accepted", [
    (0, {"Origin": "http://beacon.test"}, True),
    (0, {"Origin": "https://beacon.test"}, False),
    (0, {"Origin": "https://beacon.test", "X-Forwarded-Proto": "https"}, False),
    (0, {"Origin": "https://public.example", "X-Forwarded-Host": "public.example"}, False),
    (1, {"Origin": "https://public.example", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example"},
     True),
    (1, {"Origin": "https://beacon.test", "X-Forwarded-Proto": "https"}, True),
    (1, {"Origin": "http://beacon.test", "X-Forwarded-Proto": "https"}, False),
    (1, {"Origin": "https://evil.example", "X-Forwarded-Proto": "https"}, False),
])
def test_socket_origin_check_sees_the_origin_the_trusted_proxy_saw(make_app, trusted, headers, accepted):
    app = make_app(TRUSTED_PROXIES=trusted)
    response = app.test_client().get("/socket.io/?EIO=4&transport=polling", headers=headers,
                                     base_url="http://beacon.test")
    assert (response.status_code == 200) is accepted, response.get_data(as_text=True)
