"""Sockets re-validated against the database, with no pub/sub message: on every upkeep
tick (one lost, or a restore changed the database) and on every join."""
import time

import pytest
import requests
from sqlalchemy import delete, update

from tests.support.sockets import diff_members, names, realtime, team  # noqa: F401

EVERY_TICK = "0.25"  # (the default is every 4th tick)


def change(statement):
    """Change the database directly, as a restore does: no message reaches any socket."""
    from app.extensions import db

    db.session.execute(statement)
    db.session.commit()


def gone_within(client, seconds):
    """Whether the server closed ``client`` within ``seconds`` (a tick is 250 ms)."""
    start = time.monotonic()
    return client.wait_for(lambda _ev: not client.client.connected, timeout=seconds) and \
        time.monotonic() - start < seconds


@pytest.mark.backends("production")
@pytest.mark.parametrize("how", ["revoked", "deleted by a restore", "expired"])
def test_a_token_no_longer_valid_in_the_database_closes_its_sockets(realtime, team, factory, how):
    from app.auth.tokens import hash_token
    from app.models import ApiToken
    from app.models.base import utcnow

    server = realtime.server(REALTIME_REVALIDATE_SECONDS=EVERY_TICK)
    token, other_token = factory.token(team["member"]), factory.token(team["member"])
    doomed, kept = realtime.client(server, token=token), realtime.client(server, token=other_token)
    watcher = realtime.client(server, team["owner"])
    assert watcher.join("project:WEB")["ok"] and doomed.join("project:WEB")["ok"]
    assert watcher.wait_for(lambda ev: diff_members(ev, "joins", team["member"].id))
    this_token = ApiToken.token_hash == hash_token(token)
    change({"revoked": update(ApiToken).where(this_token).values(revoked_at=utcnow()),
            "deleted by a restore": delete(ApiToken).where(this_token),
            "expired": update(ApiToken).where(this_token).values(expires_at=utcnow())}[how])
    assert gone_within(doomed, 2)
    assert doomed.received("session.ended") == [{"reason": "expired" if how == "expired" else "signed_out"}]
    assert watcher.wait_for(lambda ev: diff_members(ev, "leaves", team["member"].id), timeout=3)
    assert kept.client.connected and kept.join("project:WEB")["ok"]


@pytest.mark.backends("production")
def test_a_user_deactivated_in_the_database_loses_every_socket_on_every_process(realtime, team):
    from app.models import User

    a, b = realtime.server(), realtime.server()  # re-checking every second, the default
    tabs = [realtime.client(a, team["member"]), realtime.client(b, team["member"])]
    bystander = realtime.client(b, team["owner"])
    change(update(User).where(User.id == team["member"].id).values(active=False))
    for tab in tabs:
        assert gone_within(tab, 3)
        assert tab.received("session.ended") == [{"reason": "deactivated"}]
    assert bystander.client.connected and bystander.received("session.ended") == []


@pytest.mark.backends("production")
def test_a_membership_removed_without_its_message_takes_the_sockets_out_on_every_process(
        realtime, team, factory, monkeypatch):
    from app.projects.service import remove_member
    from app.realtime import broadcast

    a, b = (realtime.server(REALTIME_REVALIDATE_SECONDS=EVERY_TICK) for _ in range(2))
    owner_headers = factory.headers(team["owner"])
    issue_id = requests.post(f"{a.url}/api/v1/projects/WEB/issues", json={"title": "x"},
                             headers=owner_headers).json()["id"]
    watcher = realtime.client(b, team["owner"])
    watcher.join("project:WEB")
    tabs = [realtime.client(a, team["member"]), realtime.client(b, team["member"])]
    for tab in tabs:
        assert tab.join("project:WEB")["ok"] and tab.join(f"issue:{issue_id}")["ok"]
    assert watcher.wait_for(lambda ev: diff_members(ev, "joins", team["member"].id))
    monkeypatch.setattr(broadcast, "access_lost", lambda user_id, room: None)  # the message is lost
    remove_member(team["web"], team["owner"], team["member"].id)
    for tab in tabs:
        lost = tab.wait_for(lambda ev: names(ev, "access.lost") if len(names(ev, "access.lost")) == 2 else None,
                            timeout=2)
        assert sorted(d["room"] for _, d in lost) == [f"issue:{issue_id}", "project:WEB"]
        assert tab.client.connected and tab.join("project:WEB")["ok"] is False
    assert watcher.wait_for(lambda ev: diff_members(ev, "leaves", team["member"].id), timeout=3)


@pytest.mark.backends("production")
def test_a_project_deleted_without_its_message_closes_its_rooms(realtime, team, factory, monkeypatch):
    from app.projects.service import delete_project
    from app.realtime import broadcast

    server = realtime.server(REALTIME_REVALIDATE_SECONDS=EVERY_TICK)
    issue_id = requests.post(f"{server.url}/api/v1/projects/WEB/issues", json={"title": "x"},
                             headers=factory.headers(team["owner"])).json()["id"]
    in_issue_only = realtime.client(server, team["member"])  # a room.closed to project:WEB never named this one
    assert in_issue_only.join(f"issue:{issue_id}")["ok"]
    monkeypatch.setattr(broadcast, "room_closed", lambda room: None)
    delete_project(team["web"], team["owner"])
    closed = in_issue_only.wait_for(lambda ev: names(ev, "room.closed"), timeout=2)
    assert [d["room"] for _, d in closed] == [f"issue:{issue_id}"]
    assert in_issue_only.call("leave", {"room": f"issue:{issue_id}"}) == {"ok": False, "error": "not in that room"}


@pytest.mark.backends("production")
def test_an_admin_demoted_in_the_database_loses_what_only_admins_have(realtime, team, factory):
    from app.models import User
    from app.realtime import broadcast

    server = realtime.server(REALTIME_REVALIDATE_SECONDS=EVERY_TICK)
    demoted = factory.admin("Demoted")
    socket = realtime.client(server, demoted)
    assert socket.join("project:WEB")["ok"]  # an admin reads every project
    change(update(User).where(User.id == demoted.id).values(is_admin=False))
    assert socket.wait_for(lambda ev: names(ev, "access.lost"), timeout=2)
    assert socket.received("access.lost") == [{"room": "project:WEB"}]
    time.sleep(0.3)
    with realtime.emitter().app_context():
        broadcast.to_admins("backup.finished", {"id": "after demotion"})
    time.sleep(0.5)
    assert socket.client.connected and socket.received("backup.finished") == []


@pytest.mark.parametrize("change_made, reason", [("revoked", "signed_out"), ("deactivated", "deactivated")])
def test_a_join_re_validates_its_socket_first(make_app, factory, monkeypatch, change_made, reason):
    """Before the upkeep's next tick (switched off here), the join itself refuses and closes."""
    from app.auth.tokens import hash_token
    from app.extensions import socketio
    from app.models import ApiToken, User
    from app.models.base import utcnow
    from app.realtime import upkeep

    monkeypatch.setattr(upkeep, "revalidate", lambda: None)
    owner = factory.user("Owner")
    factory.project(owner, "REV")
    token = factory.token(owner)
    app = make_app()  # in process: no message queue (the test client refuses one)
    client = socketio.test_client(app, namespace="/realtime", auth={"token": token})
    try:
        assert client.is_connected("/realtime")
        change(update(ApiToken).where(ApiToken.token_hash == hash_token(token)).values(revoked_at=utcnow())
               if change_made == "revoked" else update(User).where(User.id == owner.id).values(active=False))
        answer = client.emit("join", {"room": "project:REV"}, namespace="/realtime", callback=True)
        received = [p for p in client.queue if p["namespace"] == "/realtime"]  # (closed: get_received refuses)
        assert answer == {"ok": False, "error": "session ended"}
        assert [(r["name"], r["args"][0]) for r in received] == [("session.ended", {"reason": reason})]
        assert not client.is_connected("/realtime")
    finally:
        if client.is_connected("/realtime"):
            client.disconnect(namespace="/realtime")
