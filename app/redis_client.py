"""The app's Redis: one connection per app, the embedded stand-in, leases and transactions.

With ``REDIS_URL`` set, the connection is a real Redis. Without it (the embedded mode of
``make run``) it is an in-process fakeredis server that every app of the process shares,
so the server, its worker thread and its scheduler see the same keys. Named
``redis_client`` so it never shadows the ``redis`` package.

Everything that reads-then-writes a key under ``WATCH`` goes through ``transact``: one
retry loop, however many features need one.
"""
import os
import socket
import threading
import uuid

import fakeredis
from flask import current_app
from redis import BlockingConnectionPool, Redis
from redis.exceptions import WatchError
from rq.defaults import DEFAULT_WORKER_TTL

from .extensions import per_app

# An RQ worker's own connections time out after this long. Its blocking dequeue waits up
# to the worker TTL less 15 s (405 s); redis-py 8 gives connections a 5 s timeout unless
# told, which cut every idle wait at 5 s (see ``worker_redis``).
WORKER_SOCKET_TIMEOUT = DEFAULT_WORKER_TTL
# The app's Redis connections, per process. redis-py 8 caps a pool at 100 connections and
# raises MaxConnectionsError at once for the 101st: under eventlet, a server process
# restarted under load took 100 re-joining sockets at once, and each held a connection
# while it waited on Redis, so disconnect handlers failed (bench/reliability.py). Past the
# cap a caller now waits for a free connection, up to REDIS_POOL_WAIT_SECONDS.
REDIS_POOL_SIZE = 100
REDIS_POOL_WAIT_SECONDS = 20

_embedded_server = None
_embedded_lock = threading.Lock()


def get_redis(app=None):
    """The app's Redis connection: real with ``REDIS_URL``, else the process's fakeredis."""
    app = app or current_app

    def make():
        if not app.config["REDIS_URL"]:
            return _fake_redis()
        pool = BlockingConnectionPool.from_url(app.config["REDIS_URL"], max_connections=REDIS_POOL_SIZE,
                                               timeout=REDIS_POOL_WAIT_SECONDS, health_check_interval=30)
        return Redis(connection_pool=pool)

    return per_app(app, "beacon_redis", make)


def worker_redis(app):
    """A Redis client of an RQ worker's own: its blocking dequeue, heartbeats and job records.

    Not the app's client: RQ raises the socket timeout of its connection's pool above its
    dequeue wait, but only for connections made afterwards, and the app's pool already held
    some that the scheduler thread had opened with redis-py's 5 s default. A worker that
    dequeued on one of them failed every idle wait after 5 s ("Timeout reading from
    socket"), and RQ backed off (1, 2, 4, 8 s...) before it dequeued again: it took no job
    for a minute. Its own timeout also keeps the app's commands at the 5 s default.
    """
    return Redis.from_url(app.config["REDIS_URL"], socket_timeout=WORKER_SOCKET_TIMEOUT, health_check_interval=30)


def _fake_redis():
    global _embedded_server
    with _embedded_lock:
        if _embedded_server is None:
            _embedded_server = fakeredis.FakeServer()
    return fakeredis.FakeRedis(server=_embedded_server)


def transact(connection, key, plan):
    """Read ``key`` and write in one transaction, reading again whenever another client
    changed the key in between.

    ``plan(pipe)`` reads through ``pipe`` (watching ``key``) and gives ``(result, write)``;
    ``write(pipe)`` queues the writes, which run only if ``key`` is unchanged since the
    read, or ``write`` is None to write nothing. Returns ``result`` of the plan that ran.
    """
    with connection.pipeline() as pipe:
        while True:
            try:
                pipe.watch(key)
                result, write = plan(pipe)
                if write is None:
                    pipe.unwatch()
                    return result
                pipe.multi()
                write(pipe)
                pipe.execute()
                return result
            except WatchError:
                continue


class Lease:
    """A Redis key that one owner holds at a time; it lapses ``seconds`` after its owner
    stops renewing it (a dead process never holds it for long)."""

    def __init__(self, connection, key, seconds):
        self.connection, self.key, self.seconds = connection, key, seconds
        # Unique, and says who holds it (host and process), for people reading Redis.
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        self.stopped = threading.Event()

    def hold(self):
        """Take the lease, or renew it if ours; True while this owner holds it."""
        milliseconds = int(self.seconds * 1000)
        if self.connection.set(self.key, self.token, nx=True, px=milliseconds):
            return True
        return self._if_ours(lambda pipe: pipe.pexpire(self.key, milliseconds))

    def keep_alive(self):
        """Renew the lease from a heartbeat thread until ``release`` (or until it is lost)."""
        def beat():
            while not self.stopped.wait(self.seconds / 3) and self.hold():
                pass

        threading.Thread(target=beat, name=f"lease-{self.key}", daemon=True).start()

    def release(self):
        self.stopped.set()
        self._if_ours(lambda pipe: pipe.delete(self.key))

    def _if_ours(self, action):
        """Run ``action`` on the key only while this owner holds it, in one transaction: a
        lease that lapses between the check and the action is left to its new owner."""
        def plan(pipe):
            if pipe.get(self.key) != self.token.encode():
                return False, None
            return True, action

        return transact(self.connection, self.key, plan)
