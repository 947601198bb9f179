"""Real-time test helpers: servers linked by Redis, recording python-socketio clients.

Test modules import the fixtures ``realtime`` and ``team`` from here.
"""
import os
import signal
import threading
import time

import pytest
import redis
import socketio

NAMESPACE = "/realtime"


class RecordingClient:
    """A python-socketio client over a real socket that records what it receives."""

    def __init__(self, url, token):
        self.events = []
        self.lock = threading.Lock()
        self.client = socketio.Client(reconnection=False)
        self.client.on("*", self._record, namespace=NAMESPACE)
        self.client.connect(url, auth={"token": token}, namespaces=[NAMESPACE], transports=["websocket"],
                            wait_timeout=10)

    def _record(self, event, data):
        with self.lock:
            self.events.append((event, data))

    def call(self, event, data=None):
        return self.client.call(event, data, namespace=NAMESPACE, timeout=10)

    def join(self, room, **extra):
        return self.call("join", {"room": room, **extra})

    def received(self, event=None):
        with self.lock:
            return [data for name, data in self.events if event is None or name == event]

    def seqs(self, room=None):
        """The seqs of every event received (singly or in bulk), in arrival order."""
        found = []
        for name, data in list(self.events):
            if name == "events.bulk" and room in (None, data["room"]):
                found += [e["seq"] for e in data["events"]]
            elif isinstance(data, dict) and "seq" in data and "project" in data:
                found.append(data["seq"])
        return found

    def wait_for(self, predicate, timeout=5.0):
        """Wait until ``predicate(events)`` is true; return it (falsy on timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                result = predicate(list(self.events))
            if result:
                return result
            time.sleep(0.05)
        return None

    def close(self):
        if self.client.connected:
            self.client.disconnect()


def names(events, event):
    return [e for e in events if e[0] == event]


def diff_members(events, kind, user_id=None):
    return [m for _, d in names(events, "presence.diff") for m in d[kind] if user_id in (None, m["user_id"])]


@pytest.fixture
def realtime(redis_url, start_server, factory, make_app):
    """Servers linked by the Redis message queue, clients, and an in-process emitter (the
    way a worker emits: an app created with the message queue)."""
    clients, servers, linked = [], [], set()

    class Realtime:
        def server(self, **env):
            settings = {"REDIS_URL": redis_url, "SOCKETIO_MESSAGE_QUEUE": redis_url, "REALTIME_LEASE_SECONDS": "5",
                        "REALTIME_TYPING_SECONDS": "1", **env}
            servers.append(start_server(**settings))
            return servers[-1]

        def client(self, server, user=None, token=None):
            clients.append(RecordingClient(server.url, token or factory.token(user)))
            linked.add(server)
            self.wait_linked()
            return clients[-1]

        def wait_linked(self, timeout=10):
            """Wait until every server with a client listens to the message queue (a server
            starts listening on its first connection; what is sent before never reaches it)."""
            connection = redis.Redis.from_url(redis_url)
            deadline = time.monotonic() + timeout
            live = [server for server in linked if server.popen.poll() is None]
            channel = os.environ["SOCKETIO_CHANNEL"]
            while dict(connection.pubsub_numsub(channel))[channel.encode()] < len(live):
                assert time.monotonic() < deadline, "a server did not subscribe to the message queue"
                time.sleep(0.02)
            connection.close()

        def emitter(self):
            return make_app(REDIS_URL=redis_url, SOCKETIO_MESSAGE_QUEUE=redis_url)

    yield Realtime()
    for server in servers:  # first: a client's close waits 3 s for a live server's handshake
        server.kill(signal.SIGKILL)
    for client in clients:
        client.close()


@pytest.fixture
def team(factory):
    owner, member, outsider = factory.user("Owner"), factory.user("Member"), factory.user("Outsider")
    web = factory.project(owner, "WEB")
    factory.member(web, member, "member")
    api = factory.project(outsider, "API")
    return {"owner": owner, "member": member, "outsider": outsider, "web": web, "api": api}
