"""Socket.IO clients for bench/load.py: COUNT green-thread clients in ROOM, counting events.

    python bench/load_swarm.py URL TOKEN COUNT ROOM

Prints ``ready`` once every client has joined; each ``report`` line on stdin prints a JSON
list, per client, of ``[seq at join, distinct seqs received after it, highest seq seen]``
(events sent singly or in ``events.bulk``); ``quit`` disconnects and ends.
"""
import eventlet

eventlet.monkey_patch()

import json  # noqa: E402
import sys  # noqa: E402

import socketio  # noqa: E402
from eventlet import tpool  # noqa: E402

from realtime_swarm import NAMESPACE, open_and_join  # noqa: E402  (run as a script: bench/ is on the path)


class Listener:
    def __init__(self, url, token, room):
        self.seqs = set()
        self.client = socketio.Client(reconnection=False, request_timeout=120)
        self.client.on("*", self.record, namespace=NAMESPACE)
        self.joined = open_and_join(self.client, url, token, room)["seq"]

    def record(self, event, data):
        if event == "events.bulk":
            self.seqs.update(e["seq"] for e in data["events"])
        elif isinstance(data, dict) and "seq" in data and "project" in data:
            self.seqs.add(data["seq"])

    def report(self):
        after = [seq for seq in self.seqs if seq > self.joined]
        return [self.joined, len(after), max(after, default=self.joined)]


def main():
    url, token, count, room = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    pool = eventlet.GreenPool(25)
    listeners = list(pool.imap(lambda _: Listener(url, token, room), range(count)))
    print("ready", flush=True)
    while tpool.execute(sys.stdin.readline).strip() == "report":
        print(json.dumps([listener.report() for listener in listeners]), flush=True)
    for listener in listeners:
        listener.client.eio.disconnect(abort=True)


if __name__ == "__main__":
    main()
