"""The /realtime namespace over real sockets, against one real server process."""
import signal
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import socketio

from tests.support.sockets import diff_members, names, realtime, team  # noqa: F401

pytestmark = pytest.mark.backends("production")  # real servers: once, on the production database


def test_connection_needs_a_valid_live_token(realtime, factory):
    server = realtime.server()
    gone = factory.user("Gone", active=False)

    def refused(auth):
        client = socketio.Client(reconnection=False)
        try:
            client.connect(server.url, auth=auth, namespaces=["/realtime"], transports=["websocket"], wait_timeout=3)
        except socketio.exceptions.ConnectionError:
            return True
        client.disconnect()
        return False

    auths = [None, {"token": "not-a-token"}, {"token": 42}, {"token": factory.token(gone)},
             {"token": factory.token(factory.user())}]
    with ThreadPoolExecutor(len(auths)) as pool:
        assert list(pool.map(refused, auths)) == [True, True, True, True, False]


@pytest.mark.parametrize("async_mode", ["threading", "eventlet"])
def test_events_reach_room_members_and_no_one_else(realtime, team, factory, async_mode):
    server = realtime.server(SOCKETIO_ASYNC_MODE=async_mode)
    member = realtime.client(server, team["member"])
    outsider = realtime.client(server, team["outsider"])
    joined = member.join("project:WEB")
    assert joined["ok"] and joined["seq"] == 1 and [m["name"] for m in joined["presence"]] == ["Member"]
    assert member.received("presence.state") == [{"room": "project:WEB", "members": joined["presence"]}]
    assert outsider.join("project:WEB") == {"ok": False, "error": "not found or not allowed"}
    assert outsider.join("project:API")["ok"]
    response = requests.post(f"{server.url}/api/v1/projects/WEB/issues", json={"title": "live"},
                             headers=factory.headers(team["owner"]))
    issue_id = response.json()["id"]
    assert member.wait_for(lambda ev: names(ev, "issue.created"))
    event = member.received("issue.created")[0]
    assert event["seq"] == 2 and event["data"]["issue"]["id"] == issue_id and event["project"] == "WEB"
    assert outsider.join(f"issue:{issue_id}")["ok"] is False
    assert member.join(f"issue:{issue_id}")["ok"]
    requests.post(f"{server.url}/api/v1/issues/{issue_id}/comments", json={"body": "hi"},
                  headers=factory.headers(team["owner"]))
    assert member.wait_for(lambda ev: names(ev, "comment.created"))
    requests.post(f"{server.url}/api/v1/projects/API/issues", json={"title": "other"},
                  headers=factory.headers(team["outsider"]))
    assert outsider.wait_for(lambda ev: names(ev, "issue.created"))
    # a member of WEB heard nothing about API, and the outsider nothing about WEB; the
    # comment came once, though the member is in the project's room and the issue's
    assert {e["project"] for e in member.received() if isinstance(e, dict) and "project" in e} == {"WEB"}
    assert len(member.received("comment.created")) == 1
    assert [e["title"] for e in outsider.received("issue.created") for e in [e["data"]["issue"]]] == ["other"]
    assert not any("WEB" in str(data) for data in outsider.received())


def test_bad_payloads_get_an_error_ack_and_change_nothing(realtime, team):
    server = realtime.server(REALTIME_MAX_ROOMS="2", REALTIME_MAX_PAYLOAD="200")
    client = realtime.client(server, team["owner"])
    watcher = realtime.client(server, team["member"])
    watcher.join("project:WEB")
    for event, data in [("join", "project:WEB"), ("join", None), ("join", {"room": "garbage"}),
                        ("join", {"room": "issue:0"}), ("join", {"room": "issue:999"}), ("join", {"room": "batch:5"}),
                        ("join", {"room": "project:NOPE"}), ("join", {"room": "user:1"}), ("join", {"room": "admins"}),
                        ("join", {"room": "project:WEB", "after_seq": -1}),
                        ("join", {"room": "project:WEB", "after_seq": True}),
                        ("join", {"room": "project:WEB", "after_seq": "3"}), ("join", {"room": "x" * 5000}),
                        ("join", {"room": "project:WEB", "extra": 1}), ("leave", {"room": "project:WEB"}),
                        ("leave", {}), ("presence.update", {"room": "project:WEB", "state": {"status": "typing"}}),
                        ("no.such.event", {})]:
        answer = client.call(event, data)
        assert answer["ok"] is False and answer["error"] and set(answer) == {"ok", "error"}, (event, data)
    assert client.join("project:WEB")["ok"]
    assert watcher.wait_for(lambda ev: diff_members(ev, "joins", team["owner"].id), timeout=3)
    assert client.join("project:WEB") == {"ok": False, "error": "already in that room"}
    for state in [{"status": "dancing"}, "typing", {"status": "typing", "issue_id": -1},
                  {"status": "typing", "issue_id": "1"}, {"status": "typing", "mood": "x"}]:
        assert client.call("presence.update", {"room": "project:WEB", "state": state})["ok"] is False, state
    assert client.join("project:API")["ok"] is False
    assert client.join("project:WEB", after_seq=0)["ok"] is False  # already in it
    client.call("leave", {"room": "project:WEB"})
    assert watcher.wait_for(lambda ev: diff_members(ev, "leaves"), timeout=3)
    assert diff_members(watcher.events, "updates") == []  # the refused updates told no one anything
    factory_issue = requests.post(f"{server.url}/api/v1/projects/API/issues", json={"title": "x"})
    assert factory_issue.status_code == 401
    assert client.join("project:WEB")["ok"] and client.call("join", {"room": "project:XY"})["ok"] is False
    assert client.client.connected  # nothing crashed


def test_room_and_payload_limits(realtime, team, factory):
    server = realtime.server(REALTIME_MAX_ROOMS="2", REALTIME_MAX_PAYLOAD="200")
    owner = team["owner"]
    issues = [factory.issue(team["web"], owner, title=f"i{n}") for n in range(2)]
    client = realtime.client(server, owner)
    assert client.join("project:WEB")["ok"] and client.join(f"issue:{issues[0].id}")["ok"]
    assert client.join(f"issue:{issues[1].id}") == {"ok": False, "error": "too many rooms on this connection"}
    assert client.call("presence.update", {"room": "project:WEB", "state": {"status": "editing"}, "pad": "x" * 300}) \
        == {"ok": False, "error": "the payload is too large"}
    assert client.call("leave", {"room": f"issue:{issues[0].id}"})["ok"]
    assert client.join(f"issue:{issues[1].id}")["ok"]  # a freed slot can be used again


def test_two_tabs_are_one_member_and_diffs_follow_joins_and_leaves(realtime, team):
    server = realtime.server()
    watcher = realtime.client(server, team["owner"])
    watcher.join("project:WEB")
    tab1, tab2 = realtime.client(server, team["member"]), realtime.client(server, team["member"])
    tab1.join("project:WEB")
    second = tab2.join("project:WEB")
    assert [(m["name"], m["connections"]) for m in second["presence"]] == [("Owner", 1), ("Member", 2)]
    member_id = team["member"].id
    assert watcher.wait_for(lambda ev: diff_members(ev, "joins", member_id))
    assert watcher.wait_for(lambda ev: [m for m in diff_members(ev, "joins", member_id) + diff_members(
        ev, "updates", member_id) if m["connections"] == 2])
    assert len(diff_members(watcher.events, "joins", member_id)) == 1  # one join for two tabs
    tab1.call("leave", {"room": "project:WEB"})
    assert watcher.wait_for(lambda ev: [m for m in diff_members(ev, "updates", member_id) if m["connections"] == 1])
    assert diff_members(watcher.events, "leaves") == []  # a tab left, the member stays
    tab2.close()
    leaves = watcher.wait_for(lambda ev: diff_members(ev, "leaves"))
    assert [(m["user_id"], m["connections"]) for m in leaves] == [(member_id, 0)]
    diffs = watcher.received("presence.diff")
    assert all(d["room"] == "project:WEB" and set(d) == {"room", "joins", "leaves", "updates"} for d in diffs)


def test_typing_is_an_update_and_lapses_by_itself(realtime, team):
    server = realtime.server()
    watcher, typist = realtime.client(server, team["owner"]), realtime.client(server, team["member"])
    watcher.join("project:WEB")
    typist.join("project:WEB")
    assert typist.call("presence.update", {"room": "project:WEB", "state": {"status": "typing", "issue_id": 3}})["ok"]

    def statuses(events):
        return [m["state"] for _, diff in names(events, "presence.diff") for m in diff["joins"] + diff["updates"]
                if m["user_id"] == team["member"].id]

    assert watcher.wait_for(lambda ev: {"status": "typing", "issue_id": 3} in statuses(ev))
    # REALTIME_TYPING_SECONDS=1: back to viewing without a word from the typist
    assert watcher.wait_for(lambda ev: statuses(ev)[-1:] == [{"status": "viewing", "issue_id": 3}], timeout=4)


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
    assert answer["seq"] == seq + 3 and again.seqs() == [seq + 1, seq + 2, seq + 3]  # before the ack
    requests.post(f"{server.url}/api/v1/projects/WEB/issues", json={"title": "live"}, headers=headers)
    assert again.wait_for(lambda ev: again.seqs() == [seq + 1, seq + 2, seq + 3, seq + 4])
    many = realtime.client(server, team["member"])
    assert many.join("project:WEB", after_seq=0)["seq"] == seq + 4
    assert names(many.events, "events.bulk") == [] and many.seqs() == list(range(1, seq + 5))
    assert realtime.client(server, team["member"]).join("project:WEB", after_seq=10_000)["seq"] == seq + 4


def test_many_events_of_one_commit_come_as_events_bulk_and_catch_up_too(realtime, team):
    from app.extensions import db
    from app.issues.service import create_issue
    from app.models import Project, User

    server = realtime.server(REALTIME_MAX_REPLAY="25")
    live = realtime.client(server, team["member"])
    live.join("project:WEB")
    with realtime.emitter().app_context():  # a worker's chunk: many events in one commit
        project = db.session.get(Project, team["web"].id)
        owner = db.session.get(User, team["owner"].id)
        for n in range(30):
            create_issue(project, owner, {"title": f"bulk {n}"}, commit=False)
        db.session.commit()
    bulk = live.wait_for(lambda ev: names(ev, "events.bulk"))
    assert bulk[0][1]["room"] == "project:WEB" and live.seqs() == list(range(2, 32))
    assert names(live.events, "issue.created") == []
    late = realtime.client(server, team["member"])
    assert late.join("project:WEB", after_seq=10)["ok"] and late.seqs() == list(range(11, 32))
    assert [d["room"] for d in late.received("events.bulk")] == ["project:WEB"]
    too_far = realtime.client(server, team["member"]).join("project:WEB", after_seq=0)
    assert too_far["ok"] is False and "31 missed events" in too_far["error"]


def test_catch_up_across_a_server_restart_and_no_ghost_left(realtime, team, factory):
    server = realtime.server(REALTIME_LEASE_SECONDS="1.5")
    gone = realtime.client(server, team["member"])
    seq = gone.join("project:WEB")["seq"]
    server.kill(signal.SIGKILL)
    restarted = realtime.server(REALTIME_LEASE_SECONDS="1.5")
    headers = factory.headers(team["owner"])
    for i in range(2):
        requests.post(f"{restarted.url}/api/v1/projects/WEB/issues", json={"title": f"after {i}"}, headers=headers)
    again = realtime.client(restarted, team["owner"])
    answer = again.join("project:WEB", after_seq=seq)
    assert answer["seq"] == seq + 2 and again.seqs() == [seq + 1, seq + 2]
    # the dead process's member leaves once its lease lapses
    assert again.wait_for(lambda ev: diff_members(ev, "leaves", team["member"].id), timeout=4) or \
        answer["presence"] == [m for m in answer["presence"] if m["user_id"] != team["member"].id]
    rejoin = realtime.client(restarted, team["outsider"])
    assert rejoin.join("project:API")["ok"]
    watcher = realtime.client(restarted, team["owner"])
    assert [m["name"] for m in watcher.join("project:WEB", after_seq=seq + 2)["presence"]] == ["Owner"]


def test_revoking_a_token_closes_only_its_sockets(realtime, team, factory):
    server = realtime.server()
    token, other_token = factory.token(team["member"]), factory.token(team["member"])
    doomed, kept = realtime.client(server, token=token), realtime.client(server, token=other_token)
    watcher = realtime.client(server, team["owner"])
    watcher.join("project:WEB")
    doomed.join("project:WEB")
    assert watcher.wait_for(lambda ev: diff_members(ev, "joins", team["member"].id), timeout=3)
    response = requests.delete(f"{server.url}/api/v1/auth/tokens/current", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 204
    assert doomed.wait_for(lambda _ev: not doomed.client.connected, timeout=2)
    assert doomed.received("session.ended") == [{"reason": "signed_out"}]
    assert watcher.wait_for(lambda ev: diff_members(ev, "leaves", team["member"].id), timeout=3)
    assert kept.client.connected and kept.join("project:WEB")["ok"]


def test_deactivation_closes_every_socket_of_the_user(realtime, team):
    from app.realtime import broadcast

    server = realtime.server()
    tabs = [realtime.client(server, team["member"]) for _ in range(2)]
    bystander = realtime.client(server, team["owner"])
    with realtime.emitter().app_context():  # the admin route's call, from another process
        broadcast.user_deactivated(team["member"].id)
    for tab in tabs:
        assert tab.wait_for(lambda _ev, tab=tab: not tab.client.connected, timeout=2)
        assert tab.received("session.ended") == [{"reason": "deactivated"}]
    assert bystander.client.connected and bystander.received("session.ended") == []


def test_deleting_a_project_empties_its_rooms(realtime, team, factory):
    server = realtime.server()
    owner_headers = factory.headers(team["owner"])
    issue_id = requests.post(f"{server.url}/api/v1/projects/WEB/issues", json={"title": "x"},
                             headers=owner_headers).json()["id"]
    member = realtime.client(server, team["member"])
    member.join("project:WEB")
    member.join(f"issue:{issue_id}")
    assert requests.delete(f"{server.url}/api/v1/projects/WEB", headers=owner_headers).status_code == 204
    closed = member.wait_for(lambda ev: names(ev, "room.closed") if len(names(ev, "room.closed")) == 2 else None)
    assert sorted(d["room"] for _, d in closed) == [f"issue:{issue_id}", "project:WEB"]
    assert member.call("leave", {"room": "project:WEB"}) == {"ok": False, "error": "not in that room"}
    assert member.client.connected and member.join("project:API")["ok"] is False


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


def test_an_admin_removed_from_a_project_still_reads_it(realtime, team, factory):
    server = realtime.server()
    admin = factory.member(team["web"], factory.admin("Admin"), "member")
    watching = realtime.client(server, admin)
    assert watching.join("project:WEB")["ok"]
    response = requests.delete(f"{server.url}/api/v1/projects/WEB/members/{admin.id}",
                               headers=factory.headers(team["owner"]))
    assert response.status_code == 204
    requests.post(f"{server.url}/api/v1/projects/WEB/issues", json={"title": "still seen"},
                  headers=factory.headers(team["owner"]))
    assert watching.wait_for(lambda ev: names(ev, "issue.created"))
    assert watching.received("access.lost") == []


def test_browsers_connect_from_the_apps_own_origin_and_the_listed_ones(realtime, factory):
    # Behind one trusted proxy (TRUSTED_PROXIES=1), whose X-Forwarded-Proto says what the browser used.
    server = realtime.server(CORS_ORIGINS="https://app.example", TRUSTED_PROXIES="1")
    token = factory.token(factory.user())
    host = server.url.split("://", 1)[1]

    def connects(headers):
        client = socketio.Client(reconnection=False)
        try:
            # Long-polling: over the websocket transport the client library adds an Origin of its own.
            client.connect(server.url, auth={"token": token}, headers=headers, namespaces=["/realtime"],
                           transports=["polling"], wait_timeout=3)
        except socketio.exceptions.ConnectionError:
            return False
        client.disconnect()
        return True

    origins = [{}, {"Origin": server.url}, {"Origin": "https://app.example"}, {"Origin": "https://evil.example"},
               {"Origin": f"https://{host}", "X-Forwarded-Proto": "https"}, {"Origin": f"https://{host}"}]
    with ThreadPoolExecutor(len(origins)) as pool:
        assert list(pool.map(connects, origins)) == [True, True, True, False, True, False]


def test_a_socket_is_closed_when_its_token_expires(realtime, factory):
    from datetime import timedelta

    from app.auth.tokens import hash_token
    from app.extensions import db
    from app.models import ApiToken
    from app.models.base import utcnow

    server = realtime.server()
    user = factory.user()
    token = factory.token(user)
    lasting = realtime.client(server, user)
    db.session.execute(db.update(ApiToken).where(ApiToken.token_hash == hash_token(token))
                       .values(expires_at=utcnow() + timedelta(seconds=2)))
    db.session.commit()
    expiring = realtime.client(server, token=token)
    assert expiring.wait_for(lambda ev: names(ev, "session.ended"), timeout=8)
    assert expiring.received("session.ended") == [{"reason": "expired"}]
    assert expiring.wait_for(lambda ev: not expiring.client.connected, timeout=5)
    assert lasting.client.connected and lasting.received("session.ended") == []
