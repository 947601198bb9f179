"""The /realtime namespace over real sockets, against real server processes."""
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import socketio

from tests.support.live import ROOT
from tests.support.sockets import RecordingClient


pytestmark = pytest.mark.backends("production")  # real servers: once, on the production database


@pytest.fixture
def realtime(redis_url, start_server, factory):
    """Start servers linked by the Redis message queue; make clients; close them afterwards."""
    clients, servers = [], []

    class Realtime:
        def server(self):
            servers.append(start_server(REDIS_URL=redis_url, SOCKETIO_MESSAGE_QUEUE=redis_url,
                                        REALTIME_LEASE_SECONDS="2", REALTIME_TYPING_SECONDS="1"))
            return servers[-1]

        def client(self, server, user):
            clients.append(RecordingClient(server.url, factory.token(user)))
            return clients[-1]

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
    factory.project(outsider, "API")
    return {"owner": owner, "member": member, "outsider": outsider, "web": web}


def names(events, event):
    return [e for e in events if e[0] == event]


def test_connection_needs_a_valid_token(realtime):
    server = realtime.server()

    def refused(auth):
        client = socketio.Client(reconnection=False)
        try:
            client.connect(server.url, auth=auth, namespaces=["/realtime"], transports=["websocket"], wait_timeout=2)
        except socketio.exceptions.ConnectionError:
            return True
        client.disconnect()
        return False

    with ThreadPoolExecutor(3) as pool:
        assert list(pool.map(refused, [None, {"token": "not-a-token"}, {"token": 42}])) == [True, True, True]


def test_events_reach_room_members_and_no_one_else(realtime, team, factory):
    server = realtime.server()
    member = realtime.client(server, team["member"])
    outsider = realtime.client(server, team["outsider"])
    joined = member.join("project:WEB")
    assert joined["ok"] and joined["seq"] == 1 and [m["name"] for m in joined["presence"]] == ["Member"]
    assert outsider.join("project:WEB") == {"ok": False, "error": "not found or not allowed"}
    assert outsider.join("project:API")["ok"]
    response = requests.post(f"{server.url}/api/v1/projects/WEB/issues", json={"title": "live"},
                             headers=factory.headers(team["owner"]))
    issue_id = response.json()["id"]
    assert member.wait_for(lambda ev: names(ev, "issue.created"))
    event = member.received("issue.created")[0]
    assert event["seq"] == 2 and event["data"]["issue"]["id"] == issue_id
    assert outsider.received("issue.created") == []  # a member of API hears nothing about WEB
    assert member.join(f"issue:{issue_id}")["ok"]
    requests.post(f"{server.url}/api/v1/issues/{issue_id}/comments", json={"body": "hi"},
                  headers=factory.headers(team["owner"]))
    assert member.wait_for(lambda ev: len(names(ev, "comment.created")) == 2)  # once per room joined


def test_bad_payloads_get_an_error_ack_and_change_nothing(realtime, team):
    server = realtime.server()
    client = realtime.client(server, team["member"])
    for event, data in [("join", "project:WEB"), ("join", {"room": "garbage"}), ("join", {"room": "issue:0"}),
                        ("join", {"room": "project:WEB", "after_seq": -1}), ("join", {"room": "x" * 5000}),
                        ("join", {"room": "project:WEB", "extra": 1}), ("leave", {"room": "project:WEB"}),
                        ("presence.update", {"room": "project:WEB", "state": {"status": "typing"}}),
                        ("no.such.event", {})]:
        answer = client.call(event, data)
        assert answer["ok"] is False and answer["error"], (event, data)
    assert client.join("project:WEB")["ok"]
    bad_state = client.call("presence.update", {"room": "project:WEB", "state": {"status": "dancing"}})
    assert bad_state["ok"] is False


def test_two_tabs_are_one_member_and_diffs_follow_joins_and_leaves(realtime, team):
    server = realtime.server()
    watcher = realtime.client(server, team["owner"])
    watcher.join("project:WEB")
    tab1, tab2 = realtime.client(server, team["member"]), realtime.client(server, team["member"])
    tab1.join("project:WEB")
    second = tab2.join("project:WEB")
    assert [(m["name"], m["connections"]) for m in second["presence"]] == [("Owner", 1), ("Member", 2)]
    member_id = team["member"].id
    joins = watcher.wait_for(lambda ev: [m for _, d in names(ev, "presence.diff") for m in d["joins"]
                                         if m["user_id"] == member_id])
    assert len(joins) == 1 and joins[0]["connections"] in (1, 2)  # one join for two tabs
    tab1.call("leave", {"room": "project:WEB"})
    tab2.close()
    leaves = watcher.wait_for(lambda ev: [m for _, d in names(ev, "presence.diff") for m in d["leaves"]])
    assert [m["user_id"] for m in leaves] == [team["member"].id]


def test_typing_is_an_update_and_lapses_by_itself(realtime, team):
    server = realtime.server()
    watcher, typist = realtime.client(server, team["owner"]), realtime.client(server, team["member"])
    watcher.join("project:WEB")
    typist.join("project:WEB")
    assert typist.call("presence.update", {"room": "project:WEB", "state": {"status": "typing"}})["ok"]

    def statuses(events):
        return [m["state"]["status"] for _, d in names(events, "presence.diff") for m in d["updates"] + d["joins"]
                if m["user_id"] == team["member"].id]

    assert watcher.wait_for(lambda ev: "typing" in statuses(ev))
    assert watcher.wait_for(lambda ev: statuses(ev)[-1:] == ["viewing"] and "typing" in statuses(ev), timeout=5)


def test_catch_up_after_a_disconnect_has_no_gap_and_no_duplicate(realtime, team, factory):
    server = realtime.server()
    first = realtime.client(server, team["member"])
    seq = first.join("project:WEB")["seq"]
    first.close()
    headers = factory.headers(team["owner"])
    for i in range(3):
        requests.post(f"{server.url}/api/v1/projects/WEB/issues", json={"title": f"missed {i}"}, headers=headers)
    again = realtime.client(server, team["member"])
    answer = again.join("project:WEB", after_seq=seq)
    replayed = [e["seq"] for e in again.received("issue.created")]
    assert answer["seq"] == seq + 3 and replayed == [seq + 1, seq + 2, seq + 3]


def test_two_processes_share_events_and_presence(realtime, team, factory):
    a, b = realtime.server(), realtime.server()
    on_a, on_b = realtime.client(a, team["owner"]), realtime.client(b, team["member"])
    on_a.join("project:WEB")
    joined = on_b.join("project:WEB")
    assert [m["name"] for m in joined["presence"]] == ["Owner", "Member"]  # sees the user on the other process
    assert on_a.wait_for(lambda ev: any(d["joins"] for _, d in names(ev, "presence.diff")))
    requests.post(f"{b.url}/api/v1/projects/WEB/issues", json={"title": "via B"}, headers=factory.headers(team["member"]))
    assert on_a.wait_for(lambda ev: names(ev, "issue.created"))
    assert len(on_a.received("issue.created")) == 1


def test_a_killed_process_users_leave(realtime, team):
    a, b = realtime.server(), realtime.server()
    watcher = realtime.client(a, team["owner"])
    watcher.join("project:WEB")
    doomed = realtime.client(b, team["member"])
    doomed.join("project:WEB")
    b.popen.send_signal(signal.SIGKILL)
    b.popen.wait(5)
    leaves = watcher.wait_for(lambda ev: [m for _, d in names(ev, "presence.diff") for m in d["leaves"]], timeout=10)
    assert [m["user_id"] for m in leaves] == [team["member"].id]


def test_losing_membership_removes_the_user_on_every_process(realtime, team, factory):
    a, b = realtime.server(), realtime.server()
    on_a, on_b = realtime.client(a, team["member"]), realtime.client(b, team["member"])
    on_a.join("project:WEB")
    on_b.join("project:WEB")
    owner_headers = factory.headers(team["owner"])
    assert requests.delete(f"{a.url}/api/v1/projects/WEB/members/{team['member'].id}", headers=owner_headers).ok
    for client in (on_a, on_b):
        assert client.wait_for(lambda ev: names(ev, "access.lost"), timeout=2)
    requests.post(f"{a.url}/api/v1/projects/WEB/issues", json={"title": "secret"}, headers=owner_headers)
    watcher = realtime.client(a, team["owner"])
    watcher.join("project:WEB")
    requests.post(f"{b.url}/api/v1/projects/WEB/issues", json={"title": "secret 2"}, headers=owner_headers)
    assert watcher.wait_for(lambda ev: len(names(ev, "issue.created")) == 1)
    assert on_a.received("issue.created") == [] and on_b.received("issue.created") == []


def test_revoked_token_closes_its_sockets(realtime, team, factory):
    server = realtime.server()
    token = factory.token(team["member"])
    client = RecordingClient(server.url, token)
    try:
        requests.delete(f"{server.url}/api/v1/auth/tokens/current", headers={"Authorization": f"Bearer {token}"})
        assert client.wait_for(lambda _ev: not client.client.connected, timeout=3)
    finally:
        client.close()


def test_an_event_emitted_by_a_worker_reaches_clients(realtime, team, redis_url, database_url, app):
    from app.worker import enqueue_job
    from tests.support.jobs import create_issue_as

    server = realtime.server()
    client = realtime.client(server, team["owner"])
    client.join("project:WEB")
    worker_app = __import__("app").create_app({"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": redis_url,
                                               "EMBEDDED_WORKER": False})
    with worker_app.app_context():
        enqueue_job(create_issue_as, team["owner"].id, "WEB", "from the worker", job_type="test")
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "worker", "--burst", "--no-scheduler"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "REDIS_URL": redis_url,
                                 "DATABASE_URL": database_url, "BEACON_INSTANCE_PATH": app.instance_path})
    assert result.returncode == 0, result.stderr[-2000:]
    assert client.wait_for(lambda ev: [d for n, d in ev if n == "issue.created"
                                       and d["data"]["issue"]["title"] == "from the worker"])


def test_analytics_counts_who_is_connected(realtime, team, factory):
    server = realtime.server()
    realtime.client(server, team["member"]).join("project:WEB")
    realtime.client(server, team["member"]).join("project:WEB")  # a second tab
    realtime.client(server, team["outsider"]).join("project:API")
    headers = {**factory.headers(team["owner"]), "Cache-Control": "no-cache"}
    live = requests.get(f"{server.url}/api/v1/analytics/realtime", headers=headers).json()
    assert (live["online_users"], live["connections"]) == (1, 2)  # API's visitor is not the owner's business
    overview = requests.get(f"{server.url}/api/v1/analytics/overview?project=WEB", headers=headers).json()
    assert overview["online_users"] == 1
