"""The abuse limits of /realtime: requests per socket and per user, replay bytes, and open
connections per user, against real server processes linked by Redis."""
import signal
import time

import pytest
import socketio

from tests.support.sockets import names, realtime, team  # noqa: F401


@pytest.mark.parametrize("name", ["REALTIME_RATE_LIMIT_SOCKET", "REALTIME_REPLAY_BYTES_USER"])
def test_a_limit_that_does_not_parse_stops_the_start_rather_than_being_skipped(monkeypatch, tmp_path, name):
    from app.config import Config

    monkeypatch.setenv(name, "twenty a second")
    with pytest.raises(ValueError, match=name):
        Config(str(tmp_path))
    monkeypatch.setenv(name, "")
    assert getattr(Config(str(tmp_path)), name) == ""  # off


def rate_limited(answer):
    return answer["ok"] is False and answer["error"].startswith("rate limited") and set(answer) == {"ok", "error"}


@pytest.mark.backends("production")  # real servers: once, on the production database
def test_joins_leaves_and_presence_updates_are_limited_per_socket(realtime, team):
    server = realtime.server(REALTIME_RATE_LIMIT_SOCKET="4/minute")
    watcher = realtime.client(server, team["owner"])
    assert watcher.join("project:WEB")["ok"]
    client, other_tab = realtime.client(server, team["member"]), realtime.client(server, team["member"])
    assert client.join("project:WEB")["ok"]
    assert client.call("presence.update", {"room": "project:WEB", "state": {"status": "editing"}})["ok"]
    assert client.call("leave", {"room": "project:WEB"})["ok"]
    assert client.join("project:WEB")["ok"]
    refused = client.call("presence.update", {"room": "project:WEB", "state": {"status": "typing"}})
    assert rate_limited(refused) and "REALTIME_RATE_LIMIT_SOCKET" in refused["error"]
    assert rate_limited(client.call("leave", {"room": "project:WEB"})) and rate_limited(client.join("issue:1"))
    assert other_tab.join("project:WEB")["ok"]  # the limit is the socket's
    time.sleep(0.6)
    members = realtime.client(server, team["owner"]).join("project:WEB")["presence"]
    member = [m for m in members if m["user_id"] == team["member"].id][0]
    assert member["connections"] == 2 and member["state"]["status"] != "typing"  # the refused ones changed nothing
    assert "typing" not in [m["state"]["status"] for _, d in names(watcher.events, "presence.diff")
                            for m in d["joins"] + d["updates"]]


@pytest.mark.backends("production")
def test_joins_leaves_and_presence_updates_are_limited_per_user_on_every_process(realtime, team):
    a, b = realtime.server(REALTIME_RATE_LIMIT_USER="3/minute"), realtime.server(REALTIME_RATE_LIMIT_USER="3/minute")
    on_a, on_b = realtime.client(a, team["member"]), realtime.client(b, team["member"])
    assert on_a.join("project:WEB")["ok"] and on_b.join("project:WEB")["ok"]
    assert on_a.call("leave", {"room": "project:WEB"})["ok"]
    refused = on_b.call("leave", {"room": "project:WEB"})
    assert rate_limited(refused) and "REALTIME_RATE_LIMIT_USER" in refused["error"]
    assert on_b.call("presence.update", {"room": "project:WEB", "state": {"status": "typing"}})["ok"] is False
    assert realtime.client(b, team["owner"]).join("project:WEB")["ok"]  # someone else is not limited


def many_events(realtime, team, count):
    """``count`` issues created in one commit (a worker's chunk); return the latest seq."""
    from app.extensions import db
    from app.issues.service import create_issue
    from app.models import Project, User

    with realtime.emitter().app_context():
        project = db.session.get(Project, team["web"].id)
        owner = db.session.get(User, team["owner"].id)
        for n in range(count):
            create_issue(project, owner, {"title": f"bulk {n}"}, commit=False)
        db.session.commit()
        return db.session.get(Project, team["web"].id).last_event_seq


def replay_sizes(project_id):
    """The bytes of each message a full replay of ``project:WEB`` sends, as the server counts them."""
    from sqlalchemy import select

    from app import fastjson
    from app.events.service import serialize_event
    from app.extensions import db
    from app.models import Event
    from app.realtime.broadcast import messages, rooms_for

    rows = db.session.scalars(select(Event).where(Event.project_id == project_id).order_by(Event.seq)).all()
    events = [serialize_event(row, "WEB") for row in rows]
    return [len(fastjson.dumps(data).encode())
            for _name, data in messages([(e, rooms_for(e)) for e in events], {"project:WEB"}, "WEB")]


@pytest.mark.backends("production")
def test_a_replay_past_the_socket_s_byte_budget_is_cut_and_resumes_later_with_nothing_twice(realtime, team):
    latest = many_events(realtime, team, 600)  # seqs 1..601: two events.bulk messages of 500 and 101
    first, second = replay_sizes(team["web"].id)
    server = realtime.server(REALTIME_REPLAY_BYTES_SOCKET=f"{first + second - 1}/2 seconds")
    client = realtime.client(server, team["member"])
    cut = client.join("project:WEB", after_seq=0)
    assert rate_limited(cut) and "REALTIME_REPLAY_BYTES_SOCKET" in cut["error"]
    assert "join again with after_seq 500" in cut["error"] and client.seqs() == list(range(1, 501))
    assert client.call("presence.update", {"room": "project:WEB", "state": {"status": "typing"}})["ok"] is False
    assert "after_seq 500" in client.join("project:WEB", after_seq=500)["error"]  # spent: nothing more now
    assert client.seqs() == list(range(1, 501))
    time.sleep(4.2)  # the 2-second window has moved on
    assert client.join("project:WEB", after_seq=500)["seq"] == latest
    assert client.seqs() == list(range(1, latest + 1))  # every event once


@pytest.mark.backends("production")
def test_a_user_s_replay_budget_is_shared_by_their_sockets(realtime, team, factory):
    many_events(realtime, team, 30)
    [size] = replay_sizes(team["web"].id)  # one events.bulk of 31 events
    server = realtime.server(REALTIME_REPLAY_BYTES_USER=f"{size + size // 2}/minute")
    first = realtime.client(server, team["member"])
    assert first.join("project:WEB", after_seq=0)["ok"]
    second = realtime.client(server, team["member"])
    refused = second.join("project:WEB", after_seq=0)
    assert refused["ok"] is False and "REALTIME_REPLAY_BYTES_USER" in refused["error"]
    assert "after_seq 0" in refused["error"] and second.seqs() == []
    assert second.join("project:WEB")["ok"]  # a join with nothing to replay costs nothing
    other_user = realtime.client(server, team["owner"])
    assert other_user.join("project:WEB", after_seq=0)["ok"] and len(other_user.seqs()) == 31


def connects(server, token):
    """A connected python-socketio client, or the reason the server gave for refusing it."""
    client, reasons = socketio.Client(reconnection=False), []
    client.on("connect_error", lambda data: reasons.append(data), namespace="/realtime")
    try:
        client.connect(server.url, auth={"token": token}, namespaces=["/realtime"], transports=["websocket"],
                       wait_timeout=5)
    except socketio.exceptions.ConnectionError as error:
        return str(reasons or error)
    return client


@pytest.mark.backends("production")
def test_open_connections_per_user_are_capped_across_processes(realtime, team, factory):
    a = realtime.server(REALTIME_MAX_CONNECTIONS_PER_USER="2", REALTIME_LEASE_SECONDS="2")
    b = realtime.server(REALTIME_MAX_CONNECTIONS_PER_USER="2", REALTIME_LEASE_SECONDS="2")
    token = factory.token(team["member"])
    first, second = realtime.client(a, token=token), realtime.client(b, token=token)
    refused = connects(a, factory.token(team["member"]))  # another token of the same user: still the user's third
    assert isinstance(refused, str) and "too many connections" in refused
    assert isinstance(connects(b, token), str)
    assert realtime.client(a, team["owner"]).join("project:WEB")["ok"]  # other users are not counted
    first.close()
    time.sleep(0.3)
    third = connects(a, token)  # a closed connection frees its place
    assert not isinstance(third, str), third
    b.kill(signal.SIGKILL)  # `second` dies with its process: its place frees once b's lease lapses
    deadline = time.monotonic() + 8
    while isinstance(fourth := connects(a, token), str):
        assert time.monotonic() < deadline, fourth
        time.sleep(0.5)
    assert isinstance(connects(a, token), str)
    for client in (third, fourth):
        client.disconnect()
