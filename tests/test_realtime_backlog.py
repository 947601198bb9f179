"""Live delivery under load: coalescing per socket, a bounded backlog told as ``events.gap``,
and pings that keep flowing to a socket that is behind (``app/realtime/outbox.py``).

Real server processes, python-socketio clients, and a client that reads as slowly as the
test wants (``tests/support/slow_socket.py``): a stalled reader fills the server's socket
buffers, after which whatever the server has for it waits in its outbox.
"""
import json
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.support.slow_socket import SlowSocket
from tests.support.sockets import names, realtime, team  # noqa: F401

pytestmark = pytest.mark.backends("production")  # real servers: once, on the production database
BIG = "x" * 60_000  # an issue that fills a socket buffer quickly


def commit_issues(realtime, team, count, per_commit=1, description=""):
    """Create ``count`` issues of WEB, ``per_commit`` per transaction (each commit is one
    broadcast), the way a worker does; return the seqs they took."""
    from app.extensions import db
    from app.issues.service import create_issue
    from app.models import Project, User

    seqs = []
    with realtime.emitter().app_context():
        project = db.session.get(Project, team["web"].id)
        owner = db.session.get(User, team["owner"].id)
        for start in range(0, count, per_commit):
            for n in range(start, min(count, start + per_commit)):
                create_issue(project, owner, {"title": f"load {n}", "description": description}, commit=False)
            db.session.commit()
            seqs.append(db.session.get(Project, team["web"].id).last_event_seq)
    return seqs


def frames_holding(client, seqs):
    """How many frames brought the socket any of ``seqs``."""
    wanted, count = set(seqs), 0
    for name, data in list(client.events):
        got = [e["seq"] for e in data["events"]] if name == "events.bulk" else [data.get("seq")]
        count += bool(wanted & set(got))
    return count


def wait(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def slow_socket():
    """``slow_socket(url, token, pace=...)``: a ``SlowSocket``, closed at the end."""
    opened = []

    def open_one(*args, **kwargs):
        opened.append(SlowSocket(*args, **kwargs))
        return opened[-1]

    yield open_one
    for client in opened:
        client.close()


def test_a_quiet_room_gets_each_event_alone_and_at_once(realtime, team, factory):
    server = realtime.server()
    listener = realtime.client(server, team["member"])
    first = listener.join("project:WEB")["seq"]
    headers = factory.headers(team["owner"])
    delays = []
    for n in range(5):
        requests.post(f"{server.url}/api/v1/projects/WEB/issues", json={"title": f"quiet {n}"}, headers=headers)
        posted = time.monotonic()
        assert listener.wait_for(lambda ev, n=n: len(names(ev, "issue.created")) == n + 1, timeout=5)
        delays.append(time.monotonic() - posted)
    assert names(listener.events, "events.bulk") == [] and listener.seqs() == list(range(first + 1, first + 6))
    assert sorted(delays)[2] < 0.1, delays  # the median: sent at once, not on the next tick


def test_what_waits_for_a_socket_leaves_as_one_frame(realtime, team, factory, slow_socket):
    server = realtime.server()
    fast = realtime.client(server, team["member"])
    slow = slow_socket(server.url, factory.token(team["member"]))
    first = slow.join("project:WEB")["seq"]
    fast.join("project:WEB")
    slow.stalled.set()  # reads nothing: the server's buffers for it fill up
    filled = commit_issues(realtime, team, 120, per_commit=20, description=BIG)
    singles = commit_issues(realtime, team, 40)  # one event per commit: each a frame of its own, unless waiting
    assert fast.wait_for(lambda ev: len(fast.seqs()) >= singles[-1] - first, timeout=30)
    # the fast socket too, without waiting for the slow one (python-socketio records in its
    # handlers' threads, so in no set order)
    assert sorted(fast.seqs()) == list(range(first + 1, singles[-1] + 1))
    slow.stalled.clear()
    assert wait(lambda: slow.seqs()[-1:] == [singles[-1]])
    assert slow.seqs() == list(range(first + 1, singles[-1] + 1))  # all, once, in order
    assert frames_holding(slow, singles) <= 3, [n for n, _ in slow.events][-10:]  # they waited: one frame or so
    assert filled and not slow.closed_by_server


def test_a_socket_too_far_behind_is_told_a_gap_and_gets_every_event_by_joining_again(realtime, team, factory, slow_socket):
    server = realtime.server(REALTIME_MAX_BACKLOG="10")
    slow = slow_socket(server.url, factory.token(team["member"]))
    first = slow.join("project:WEB")["seq"]
    slow.stalled.set()
    commit_issues(realtime, team, 120, per_commit=20, description=BIG)
    last = commit_issues(realtime, team, 40)[-1]
    time.sleep(0.5)  # the last deliveries reach the outbox
    slow.stalled.clear()
    assert wait(lambda: slow.received("events.gap"))
    gap = slow.received("events.gap")[0]
    assert gap["room"] == "project:WEB"
    before = slow.seqs()
    assert before == list(range(first + 1, gap["after_seq"] + 1)) and gap["after_seq"] < last  # nothing after it
    time.sleep(0.3)
    assert slow.seqs() == before and len(slow.received("events.gap")) == 1  # the room is quiet for it until it re-joins
    assert slow.call("leave", {"room": "project:WEB"})["ok"]
    answer = slow.join("project:WEB", after_seq=gap["after_seq"])
    assert answer["ok"] and answer["seq"] == last
    more = commit_issues(realtime, team, 3)  # live again after the catch-up
    assert wait(lambda: slow.seqs()[-1:] == [more[-1]])
    assert slow.seqs() == list(range(first + 1, more[-1] + 1))  # every event exactly once, in seq order
    assert not slow.closed_by_server


def test_a_slow_reader_keeps_hearing_pings_and_is_not_closed(realtime, team, factory, slow_socket):
    server = realtime.server(REALTIME_PING_INTERVAL="1", REALTIME_PING_TIMEOUT="2")
    slow = slow_socket(server.url, factory.token(team["member"]), pace=0.05)
    first = slow.join("project:WEB")["seq"]
    silent = slow_socket(server.url, factory.token(team["member"]))
    silent.stalled.set()  # the control: a client that answers nothing is closed
    last = commit_issues(realtime, team, 400)[-1]  # a frame each, unless coalesced: 20 s of reading
    assert wait(lambda: slow.seqs()[-1:] == [last], timeout=60)
    assert slow.seqs() == list(range(first + 1, last + 1))
    time.sleep(3)  # pings go on once it has caught up
    assert not slow.closed_by_server and slow.call("leave", {"room": "project:WEB"})["ok"]
    silent.stalled.clear()
    assert wait(lambda: silent.closed_by_server, timeout=10)


def test_the_official_client_takes_bulks_and_singles_in_seq_order(realtime, team, factory):
    server = realtime.server()
    realtime.client(server, team["owner"])  # the server now listens to the message queue
    script = Path(__file__).parent / "support" / "node_listener.mjs"
    node = subprocess.Popen(["node", str(script), server.url, factory.token(team["member"]), "project:WEB"],
                            stdout=subprocess.PIPE, text=True)
    heard = []
    threading.Thread(target=lambda: heard.extend(json.loads(line) for line in node.stdout), daemon=True).start()
    try:
        assert wait(lambda: any(m["name"] == "joined" for m in heard))
        first = next(m["data"]["seq"] for m in heard if m["name"] == "joined")
        commit_issues(realtime, team, 30, per_commit=30)  # one commit of many: a bulk
        last = commit_issues(realtime, team, 20)[-1]  # one each, faster than the tick: coalesced as they wait

        def seqs():
            return [e["seq"] for m in list(heard) for e in (m["data"]["events"] if m["name"] == "events.bulk" else
                                                            [m["data"]] if m["name"] == "issue.created" else [])]
        assert wait(lambda: seqs()[-1:] == [last])
        assert seqs() == list(range(first + 1, last + 1))
        assert [m for m in heard if m["name"] == "events.bulk"] and not [m for m in heard if m["name"] == "disconnected"]
    finally:
        node.kill()
        node.wait()
        node.stdout.close()


def test_the_dispatcher_sends_each_unbroken_run_of_seqs_of_a_project_on_its_own():
    from app.realtime.dispatch import runs_of_seqs

    taken = [{"project": key, "seq": seq} for key, seq in [("WEB", 7), ("WEB", 5), ("API", 2), ("WEB", 4),
                                                          ("API", 3), ("WEB", 8)]]
    # 6 is another writer's, still on its way: 7 and 8 must not go in the same send as 4 and 5
    assert [[(e["project"], e["seq"]) for e in run] for run in runs_of_seqs(taken)] == [
        [("WEB", 4), ("WEB", 5)], [("WEB", 7), ("WEB", 8)], [("API", 2), ("API", 3)]]
