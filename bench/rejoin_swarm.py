"""Socket.IO clients for bench/reliability.py: green-thread clients in ROOM that re-join, counting events.

    python bench/rejoin_swarm.py URL TOKENS COUNT ROOM [--rejoin]

TOKENS is one token or several, comma-separated (clients take them in turn: a user may
hold only ``REALTIME_MAX_CONNECTIONS_PER_USER`` sockets). Prints ``ready`` once every
client has joined; each ``report`` line on stdin prints a JSON list, per client, of
``[seq at join, distinct seqs received after it, highest seq seen, re-joins, {why: joins refused}]`` (events sent
singly or in ``events.bulk``); ``quit`` disconnects and ends. With ``--rejoin`` a client
does what the browser pages do: when its connection drops it reconnects, and after a
reconnect or an ``events.gap`` it joins again with ``after_seq``, the highest seq it has
seen, so that the server replays what it missed.
"""
import eventlet

eventlet.monkey_patch()

import json  # noqa: E402
import logging  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
from collections import Counter  # noqa: E402

import socketio  # noqa: E402
from eventlet import tpool  # noqa: E402

from realtime_swarm import NAMESPACE, open_and_join  # noqa: E402  (run as a script: bench/ is on the path)


class Listener:
    def __init__(self, url, token, room, rejoin=False):
        self.room, self.seqs, self.rejoins, self.refused = room, set(), 0, Counter()
        self.client = socketio.Client(reconnection=rejoin, reconnection_delay=0.5, reconnection_delay_max=3,
                                      request_timeout=120)
        self.client.on("*", self.record, namespace=NAMESPACE)
        self.joined = open_and_join(self.client, url, token, room)["seq"]
        if rejoin:
            self.client.on("connect", lambda: eventlet.spawn(self.rejoin), namespace=NAMESPACE)

    def record(self, event, data):
        if event == "events.bulk":
            self.seqs.update(e["seq"] for e in data["events"])
        elif event == "events.gap" and self.client.reconnection:
            eventlet.spawn(self.rejoin, data["after_seq"], leave_first=True)
        elif isinstance(data, dict) and "seq" in data and "project" in data:
            self.seqs.add(data["seq"])

    def rejoin(self, after_seq=None, leave_first=False):
        """Join the room again from ``after_seq`` (default: the highest seq seen), leaving it
        first when the socket is still in it (after an ``events.gap``, or a join that timed
        out here but was done there); a refused join (a replay over budget, a rate limit) is
        tried again a second later, for 30 s. A dropped connection ends the attempt: the
        reconnect starts another."""
        for _attempt in range(30):
            seq = max(self.seqs, default=self.joined) if after_seq is None else after_seq
            try:
                if leave_first:
                    self.client.call("leave", {"room": self.room}, namespace=NAMESPACE, timeout=120)
                answer = self.client.call("join", {"room": self.room, "after_seq": seq}, namespace=NAMESPACE,
                                          timeout=120)
            except socketio.exceptions.BadNamespaceError:
                return
            except socketio.exceptions.TimeoutError:
                answer = {"error": "no answer in 120 s"}
            if answer.get("ok"):
                self.rejoins += 1
                return
            error = str(answer.get("error"))
            leave_first = error in ("already in that room", "no answer in 120 s")
            self.refused[re.sub(r"\d+", "N", error)[:90]] += 1
            eventlet.sleep(1)

    def report(self):
        after = [seq for seq in self.seqs if seq > self.joined]
        return [self.joined, len(after), max(after, default=self.joined), self.rejoins, dict(self.refused)]


def main():
    url, tokens, count, room = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), sys.argv[4]
    rejoin = "--rejoin" in sys.argv[5:]
    if rejoin:  # dropped connections are expected here, and each would log a line
        logging.getLogger("engineio.client").setLevel(logging.CRITICAL)
    pool = eventlet.GreenPool(25)
    listeners = list(pool.imap(lambda n: Listener(url, tokens[n % len(tokens)], room, rejoin), range(count)))
    print("ready", flush=True)
    while tpool.execute(sys.stdin.readline).strip() == "report":
        print(json.dumps([listener.report() for listener in listeners]), flush=True)
    for listener in listeners:
        listener.client.reconnection = False
        listener.client.eio.disconnect(abort=True)


if __name__ == "__main__":
    main()
