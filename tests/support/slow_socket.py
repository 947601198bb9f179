"""A Socket.IO client that reads as slowly as a test wants, over a real WebSocket.

python-socketio's client reads its socket in a loop of its own and runs every handler in a
new thread, so it is never slow at reading, whatever its handlers do. This one speaks
Engine.IO 4 / Socket.IO 5 itself (websocket-client, one frame at a time, a small receive
buffer) and can stall or read at a set pace, answering pings only as it reaches them: the
way a client on a slow link, or a busy browser tab, looks to the server.
"""
import json
import socket
import threading
import time

import websocket

NAMESPACE = "/realtime"


class SlowSocket:
    """Connect, join rooms, then read at ``pace`` seconds a frame (or not at all while
    ``stalled`` is set). ``events`` records ``(name, data)`` of every message received."""

    def __init__(self, url, token, pace=0.0, receive_buffer=8192):
        self.pace, self.stalled = pace, threading.Event()
        self.events, self.acks, self.lock = [], {}, threading.Condition()
        self.closed_by_server, self.next_ack = False, 0
        address = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.ws = websocket.create_connection(
            address, timeout=30, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer),))
        assert self.ws.recv().startswith("0")  # Engine.IO open
        self.ws.send(f"40{NAMESPACE}," + json.dumps({"token": token}))
        assert self.ws.recv().startswith(f"40{NAMESPACE},")  # Socket.IO connect accepted
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def call(self, event, data, timeout=30):
        with self.lock:
            self.next_ack += 1
            ack = self.next_ack
        self.ws.send(f"42{NAMESPACE},{ack}" + json.dumps([event, data]))
        with self.lock:
            assert self.lock.wait_for(lambda: ack in self.acks, timeout), f"no answer to {event}"
            return self.acks.pop(ack)

    def join(self, room, **extra):
        return self.call("join", {"room": room, **extra})

    def seqs(self, room=None):
        """The seqs received (singly or in bulk), in arrival order."""
        with self.lock:
            found = []
            for name, data in self.events:
                if name == "events.bulk" and room in (None, data["room"]):
                    found += [e["seq"] for e in data["events"]]
                elif isinstance(data, dict) and "seq" in data and "project" in data:
                    found.append(data["seq"])
            return found

    def received(self, name):
        with self.lock:
            return [data for event, data in self.events if event == name]

    def close(self):
        self.pace, self.closing = 0, True
        self.stalled.clear()
        try:
            self.ws.close(timeout=1)
        except (websocket.WebSocketException, OSError):
            pass
        self.ws.shutdown()
        self.reader.join(5)

    def _read(self):
        self.closing = False
        while True:
            while self.stalled.is_set():
                time.sleep(0.01)
            try:
                frame = self.ws.recv()
            except (websocket.WebSocketException, OSError):
                self.closed_by_server = not self.closing
                return
            if not frame:
                self.closed_by_server = not self.closing
                return
            if frame == "2":
                self.ws.send("3")  # pong
            elif frame.startswith(f"42{NAMESPACE},"):
                name, data = json.loads(frame[len(f"42{NAMESPACE},"):])
                with self.lock:
                    self.events.append((name, data))
            elif frame.startswith(f"43{NAMESPACE},"):
                body = frame[len(f"43{NAMESPACE},"):]
                ack, rest = body.split("[", 1)
                with self.lock:
                    self.acks[int(ack)] = json.loads("[" + rest)[0]
                    self.lock.notify_all()
            if self.pace:
                time.sleep(self.pace)
