"""Socket.IO clients for bench/load.py: COUNT green-thread clients in ROOM, counting events.

    python bench/load_swarm.py URL TOKEN COUNT ROOM

Prints ``ready`` once every client has joined; each ``report`` line on stdin prints a JSON
list, per client, of ``[seq at join, distinct seqs received live after it, distinct seqs
received through a catch-up, highest seq seen, events.gap received, closed by the
server]`` (events sent singly or in ``events.bulk``); ``quit`` disconnects and ends. A
client told ``events.gap`` re-joins with its ``after_seq``, as the browser pages do: what
the re-join's replay brings counts as caught up.
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
        self.room, self.live, self.caught_up = room, set(), set()
        self.gaps, self.rejoining, self.leaving = 0, False, False
        self.client = socketio.Client(reconnection=False, request_timeout=120)
        self.client.on("*", self.record, namespace=NAMESPACE)
        self.joined = open_and_join(self.client, url, token, room)["seq"]

    def record(self, event, data):
        if event == "events.gap":
            self.gaps += 1
            self.rejoining = True
            eventlet.spawn_n(self.rejoin, data["after_seq"])
            return
        if event == "events.bulk":
            seqs = [e["seq"] for e in data["events"]]
        elif isinstance(data, dict) and "seq" in data and "project" in data:
            seqs = [data["seq"]]
        else:
            return
        (self.caught_up if self.rejoining else self.live).update(seqs)

    def rejoin(self, after_seq):
        """Leave, then join again after ``after_seq``: the replay comes before the answer."""
        self.client.call("leave", {"room": self.room}, namespace=NAMESPACE, timeout=120)
        answer = self.client.call("join", {"room": self.room, "after_seq": after_seq}, namespace=NAMESPACE,
                                  timeout=120)
        if not answer.get("ok"):
            print(f"re-join refused: {answer}", file=sys.stderr, flush=True)
        self.rejoining = False

    def report(self):
        live = {seq for seq in self.live if seq > self.joined}
        caught_up = {seq for seq in self.caught_up if seq > self.joined} - live
        closed = not self.client.connected and not self.leaving
        return [self.joined, len(live), len(caught_up), max(live | caught_up, default=self.joined), self.gaps, closed]


def main():
    url, token, count, room = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    pool = eventlet.GreenPool(25)
    listeners = list(pool.imap(lambda _: Listener(url, token, room), range(count)))
    print("ready", flush=True)
    while tpool.execute(sys.stdin.readline).strip() == "report":
        print(json.dumps([listener.report() for listener in listeners]), flush=True)
    for listener in listeners:
        listener.leaving = True
        listener.client.eio.disconnect(abort=True)


if __name__ == "__main__":
    main()
