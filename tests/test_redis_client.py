"""The Redis module: one transaction helper that reads again when the key changed, the lease built on it, and a pool that makes callers wait."""
import threading
import time

import pytest
from redis import Redis

from app.redis_client import Lease, get_redis, transact


def test_a_transaction_reads_again_when_another_client_changed_the_key_meanwhile(redis_url):
    connection, other = Redis.from_url(redis_url), Redis.from_url(redis_url)
    connection.set("counter", 1)
    seen = []

    def plan(pipe):
        value = int(pipe.get("counter"))
        seen.append(value)
        if len(seen) == 1:
            other.set("counter", 10)  # lands between the read and the write
        return value, lambda p: p.set("counter", value + 1)

    assert transact(connection, "counter", plan) == 10
    assert seen == [1, 10]
    assert int(connection.get("counter")) == 11


def test_a_transaction_with_nothing_to_write_writes_nothing(redis_url):
    connection = Redis.from_url(redis_url)
    assert transact(connection, "absent", lambda pipe: (pipe.get("absent"), None)) is None
    assert not connection.exists("absent")
    connection.set("after", 1)  # the connection went back to the pool unwatched and usable
    assert connection.get("after") == b"1"


def test_a_lease_has_one_holder_and_lapses_when_it_is_not_renewed(redis_url):
    connection = Redis.from_url(redis_url)
    first, second = Lease(connection, "lease", 0.3), Lease(connection, "lease", 0.3)
    assert first.hold() and first.hold()  # renewing one's own lease
    assert not second.hold()
    time.sleep(0.4)
    assert second.hold()
    assert not first.hold()
    first.release()  # not its own any more: left to its holder
    assert connection.get("lease") == second.token.encode()
    second.release()
    assert not connection.exists("lease")


@pytest.mark.backends("production")
def test_more_callers_than_redis_connections_wait_for_one_rather_than_fail(make_app, redis_url):
    """Found by bench/reliability.py: a restarted server process took a hundred re-joining
    sockets at once, each holding a Redis connection while it waited, and the next caller
    got redis-py's MaxConnectionsError. Callers past the pool's size must wait their turn."""
    app = make_app(REDIS_URL=redis_url)
    connection = get_redis(app)
    failures = []

    def wait_on_redis():
        try:
            connection.blpop("beacon:test:never-pushed", timeout=1)  # holds its connection for 1 s
        except Exception as error:  # noqa: BLE001  (the test reports whatever a caller met)
            failures.append(repr(error))

    callers = [threading.Thread(target=wait_on_redis) for _ in range(connection.connection_pool.max_connections + 20)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(30)
    assert failures == []
    connection.connection_pool.disconnect()
