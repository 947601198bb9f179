"""A swarm of Socket.IO clients in one eventlet process, driven by bench/realtime.py.

    python bench/realtime_swarm.py URL TOKEN COUNT [ROOM]

Connects COUNT clients (green threads, so a thousand cost little on the client side),
joins them to ROOM if given, and prints ``ready``. Then each ``report`` line on stdin
prints a JSON list of ``[title, arrived, at]`` for every ``issue.created`` received;
``quit`` disconnects and ends.
"""
import eventlet

eventlet.monkey_patch()

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import socketio  # noqa: E402
from eventlet import tpool  # noqa: E402

NAMESPACE = "/realtime"


def connect(url, token, room, arrivals):
    client = socketio.Client(reconnection=False, request_timeout=120)
    client.on("issue.created", lambda event: arrivals.append(
        [event["data"]["issue"]["title"], time.time(), event["at"]]), namespace=NAMESPACE)
    open_and_join(client, url, token, room)
    return client


def open_and_join(client, url, token, room=None):
    """Connect ``client`` (retrying: a handshake can time out while the server accepts
    hundreds of others), join ``room`` if given, and return the join's answer."""
    for attempt in range(5):
        try:
            client.connect(url, auth={"token": token}, namespaces=[NAMESPACE], transports=["websocket"],
                           wait_timeout=60)
            break
        except socketio.exceptions.ConnectionError:
            if attempt == 4:
                raise
            eventlet.sleep(1)
    if not room:
        return None
    answer = client.call("join", {"room": room}, namespace=NAMESPACE, timeout=120)
    if not answer.get("ok"):
        raise RuntimeError(f"join refused: {answer}")
    return answer


def main():
    url, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    room = sys.argv[4] if len(sys.argv) > 4 else None
    arrivals = []
    pool = eventlet.GreenPool(25)
    clients = list(pool.imap(lambda _: connect(url, token, room, arrivals), range(count)))
    print("ready", flush=True)
    while True:
        command = tpool.execute(sys.stdin.readline).strip()
        if command == "report":
            print(json.dumps(arrivals), flush=True)
        else:
            break
    for client in clients:
        client.eio.disconnect(abort=True)


if __name__ == "__main__":
    main()
