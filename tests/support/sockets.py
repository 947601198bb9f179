"""A python-socketio client over a real socket that records what it receives."""
import threading
import time

import socketio

NAMESPACE = "/realtime"


class RecordingClient:
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
