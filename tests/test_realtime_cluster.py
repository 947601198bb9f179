"""Real time across several server processes and workers, linked by the Redis message queue."""
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.live import ROOT
from tests.support.sockets import diff_members, names, realtime, team  # noqa: F401

pytestmark = pytest.mark.backends("production")  # real servers: once, on the production database


def create(server, headers, title, project="WEB"):
    response = requests.post(f"{server.url}/api/v1/projects/{project}/issues", json={"title": title}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_two_processes_share_events_and_presence(realtime, team, factory):
    a, b = realtime.server(), realtime.server()
    on_a, on_b = realtime.client(a, team["owner"]), realtime.client(b, team["member"])
    on_a.join("project:WEB")
    joined = on_b.join("project:WEB")
    assert [m["name"] for m in joined["presence"]] == ["Owner", "Member"]  # sees the user on the other process
    assert on_a.wait_for(lambda ev: diff_members(ev, "joins", team["member"].id))
    create(b, factory.headers(team["member"]), "via B")
    assert on_a.wait_for(lambda ev: names(ev, "issue.created")) and on_b.wait_for(lambda ev: names(ev, "issue.created"))
    time.sleep(0.3)
    assert len(on_a.received("issue.created")) == 1 and len(on_b.received("issue.created")) == 1


def test_concurrent_writers_on_two_processes_reach_everyone_in_seq_order(realtime, team, factory):
    a, b = realtime.server(), realtime.server()
    watchers = [realtime.client(a, team["owner"]), realtime.client(b, team["member"])]
    for watcher in watchers:
        watcher.join("project:WEB")
    headers = [factory.headers(team["owner"]) for _ in range(8)]
    writes = 40
    late_joiners, tokens = [], [factory.token(team["member"]) for _ in range(3)]
    # Write k*10+10 onwards waits for joiner k, who joins once k*10+5 writes are done: each
    # joins mid-stream with writes in flight, however fast or slow the machine is.
    joined, done = [threading.Event() for _ in range(3)], []

    def write(n):
        for k, event in enumerate(joined):
            if n >= 10 * (k + 1):
                assert event.wait(30)
        create((a, b)[n % 2], headers[n % 8], f"w{n}")
        done.append(n)

    def join_midway():  # sockets joining while writes are in flight: no gap, no duplicate
        for k, event in enumerate(joined):
            while len(done) < 10 * k + 5:
                time.sleep(0.01)
            client = realtime.client((a, b)[k % 2], token=tokens[k])
            late_joiners.append((client, client.join("project:WEB", after_seq=1)["seq"]))
            event.set()

    joiner = threading.Thread(target=join_midway)
    joiner.start()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(writes)))
    joiner.join()
    everything = list(range(2, writes + 2))
    for client in watchers + [c for c, _ in late_joiners]:
        assert client.wait_for(lambda _ev, client=client: len(client.seqs()) >= writes, timeout=10)
        time.sleep(0.2)
        assert client.seqs() == everything
    assert all(1 < seq < writes + 1 for _, seq in late_joiners)  # each joined mid-stream


def test_a_killed_process_users_leave(realtime, team):
    a, b = realtime.server(REALTIME_LEASE_SECONDS="2"), realtime.server(REALTIME_LEASE_SECONDS="2")
    watcher = realtime.client(a, team["owner"])
    watcher.join("project:WEB")
    doomed = realtime.client(b, team["member"])
    doomed.join("project:WEB")
    assert watcher.wait_for(lambda ev: diff_members(ev, "joins", team["member"].id))
    b.popen.send_signal(signal.SIGKILL)
    b.popen.wait(5)
    killed_at = time.monotonic()
    leaves = watcher.wait_for(lambda ev: diff_members(ev, "leaves"), timeout=10)
    assert [m["user_id"] for m in leaves] == [team["member"].id]
    assert time.monotonic() - killed_at < 6  # lease 2 s, swept every 0.67 s (production: 15 s, within 30 s)
    fresh = realtime.client(a, team["outsider"])
    assert [m["name"] for m in fresh.join("project:API")["presence"]] == ["Outsider"]
    assert [m["name"] for m in realtime.client(a, team["owner"]).join("project:WEB")["presence"]] == ["Owner"]


def test_losing_membership_removes_the_user_on_every_process_within_2_s(realtime, team, factory):
    a, b = realtime.server(), realtime.server()
    owner_headers = factory.headers(team["owner"])
    issue_id = create(a, owner_headers, "before")["id"]
    watcher = realtime.client(b, team["owner"])
    watcher.join("project:WEB")
    on_a, on_b = realtime.client(a, team["member"]), realtime.client(b, team["member"])
    for client in (on_a, on_b):
        assert client.join("project:WEB")["ok"] and client.join(f"issue:{issue_id}")["ok"]
    elsewhere = realtime.client(a, team["member"])  # a tab of the same user in no WEB room
    assert watcher.wait_for(lambda ev: diff_members(ev, "joins", team["member"].id))
    removed_at = time.monotonic()
    response = requests.delete(f"{a.url}/api/v1/projects/WEB/members/{team['member'].id}", headers=owner_headers)
    assert response.status_code == 204
    for client in (on_a, on_b):
        lost = client.wait_for(lambda ev: names(ev, "access.lost") if len(names(ev, "access.lost")) == 2 else None,
                               timeout=2)
        assert sorted(d["room"] for _, d in lost) == [f"issue:{issue_id}", "project:WEB"]
    assert time.monotonic() - removed_at < 2
    assert elsewhere.received("access.lost") == []
    assert watcher.wait_for(lambda ev: diff_members(ev, "leaves", team["member"].id), timeout=3)
    secret_id = create(b, owner_headers, "secret")["id"]
    requests.post(f"{a.url}/api/v1/issues/{issue_id}/comments", json={"body": "secret"}, headers=owner_headers)
    assert watcher.wait_for(lambda ev: names(ev, "comment.created"))
    for client in (on_a, on_b, elsewhere):
        # "before" may still be arriving from the queue on a slow machine; "secret" never may
        assert [e for e in client.received("issue.created") if e["data"]["issue"]["id"] == secret_id] == []
        assert client.received("comment.created") == []
        assert client.call("presence.update", {"room": "project:WEB", "state": {"status": "editing"}})["ok"] is False
        assert client.join("project:WEB")["ok"] is False


def test_an_event_emitted_by_a_worker_process_reaches_clients(realtime, team, redis_url, database_url, app):
    from app.worker import enqueue_job
    from tests.support.jobs import create_issue_as

    a, b = realtime.server(), realtime.server()
    clients = [realtime.client(a, team["owner"]), realtime.client(b, team["member"])]
    for client in clients:
        client.join("project:WEB")
    with realtime.emitter().app_context():
        enqueue_job(create_issue_as, team["owner"].id, "WEB", "from the worker", job_type="test")
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "worker", "--burst", "--no-scheduler"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "REDIS_URL": redis_url,
                                 "SOCKETIO_CHANNEL": os.environ["SOCKETIO_CHANNEL"],
                                 "DATABASE_URL": database_url, "BEACON_INSTANCE_PATH": app.instance_path})
    assert result.returncode == 0, result.stderr[-2000:]
    for client in clients:
        assert client.wait_for(lambda ev: [d for n, d in ev if n == "issue.created"
                                           and d["data"]["issue"]["title"] == "from the worker"])


def make_batch(user):
    from app.extensions import db
    from app.models import Batch

    batch = Batch(user_id=user.id, mode="best_effort", operations=[], total=3)
    db.session.add(batch)
    db.session.commit()
    return batch.id


def test_batch_rooms_belong_to_the_submitter_and_admins(realtime, team, factory):
    from app.realtime import broadcast

    server = realtime.server()
    batch_id = make_batch(team["member"])
    admin = factory.admin("Admin")
    submitter, other_tab = realtime.client(server, team["member"]), realtime.client(server, team["member"])
    watching_admin, stranger = realtime.client(server, admin), realtime.client(server, team["owner"])
    assert submitter.join(f"batch:{batch_id}")["ok"] and watching_admin.join(f"batch:{batch_id}")["ok"]
    assert stranger.join(f"batch:{batch_id}") == {"ok": False, "error": "not found or not allowed"}
    assert stranger.join(f"batch:{batch_id + 1}")["ok"] is False
    record = {"id": batch_id, "status": "succeeded", "total": 3, "done": 3, "succeeded": 3, "failed": 0}
    with realtime.emitter().app_context():  # as the batch's worker does
        broadcast.batch_progress({"id": batch_id, "done": 1, "total": 3, "succeeded": 1, "failed": 0}, team["member"].id)
        broadcast.batch_finished(record, team["member"].id)
    for client in (submitter, other_tab, watching_admin):  # the batch room, and the submitter's own room
        assert client.wait_for(lambda ev: names(ev, "batch.finished"))
        assert [d["done"] for d in client.received("batch.progress")] == [1, 3]  # once each, in order
        assert client.received("batch.finished") == [record]
    assert stranger.received("batch.progress") == [] and stranger.received("batch.finished") == []


def test_backup_news_go_to_admins_only(realtime, team, factory):
    from app.realtime import broadcast

    a, b = realtime.server(), realtime.server()
    admins = [realtime.client(a, factory.admin("A1")), realtime.client(b, factory.admin("A2"))]
    others = [realtime.client(a, team["owner"]), realtime.client(b, team["member"])]
    record = {"id": "20261124T120000Z-abcd", "status": "verified"}
    with realtime.emitter().app_context():
        broadcast.to_admins("backup.finished", record)
        broadcast.to_admins("backup.restored", record)
    for client in admins:
        assert client.wait_for(lambda ev: names(ev, "backup.restored"))
        assert client.received("backup.finished") == [record] and client.received("backup.restored") == [record]
    time.sleep(0.3)
    assert all(client.received() == [] for client in others)


def test_a_real_backup_and_restore_reach_admins_over_the_queue(realtime, team, factory, tmp_path):
    """A backup made and restored by another process (a worker) reaches admin sockets only."""
    from app.backups import service

    server = realtime.server()
    admin, other = realtime.client(server, factory.admin("Root")), realtime.client(server, team["owner"])
    worker_app = realtime.emitter()
    worker_app.config["BACKUP_DIR"] = str(tmp_path / "backups")
    with worker_app.app_context():
        record = service.run_backup(note="nightly")
        service.run_restore(record["id"])
    finished = admin.wait_for(lambda ev: names(ev, "backup.finished"))
    assert [(r["id"], r["status"], r["note"]) for _, r in finished] == [(record["id"], "verified", "nightly")]
    restored = admin.wait_for(lambda ev: names(ev, "backup.restored"))
    assert [r["id"] for _, r in restored] == [record["id"]]
    time.sleep(0.3)
    assert other.received("backup.finished") == [] and other.received("backup.restored") == []


def test_a_changed_admin_flag_reaches_open_sockets_on_every_process(realtime, team, factory):
    from app.realtime import broadcast

    a, b = realtime.server(), realtime.server()
    boss = factory.admin("Boss")
    demoted = factory.admin("Demoted")
    sockets = [realtime.client(a, demoted), realtime.client(b, demoted)]
    for socket in sockets:
        assert socket.join("project:WEB")["ok"]  # an admin reads every project
        assert socket.join("project:API")["ok"]
    factory.member(team["api"], demoted, "viewer")  # a member of API in their own right

    def set_admin(value):
        response = requests.patch(f"{a.url}/api/v1/admin/users/{demoted.id}", json={"is_admin": value},
                                  headers=factory.headers(boss))
        assert response.status_code == 200 and response.json()["is_admin"] is value

    def admins_hear(note):
        with realtime.emitter().app_context():
            broadcast.to_admins("backup.finished", {"id": note})

    set_admin(False)
    for socket in sockets:
        assert socket.wait_for(lambda ev: names(ev, "access.lost"))
        assert socket.received("access.lost") == [{"room": "project:WEB"}]  # API stays: they are a member
    admins_hear("after demotion")
    requests.post(f"{a.url}/api/v1/projects/WEB/issues", json={"title": "not for them"},
                  headers=factory.headers(team["owner"]))
    set_admin(True)
    time.sleep(0.5)  # the promotion reaches both processes before the next note
    admins_hear("after promotion")
    for socket in sockets:
        assert socket.wait_for(lambda ev: [d for name, d in ev if name == "backup.finished" and d["id"] == "after promotion"])
        assert [d["id"] for d in socket.received("backup.finished")] == ["after promotion"]
        assert socket.received("issue.created") == []


def presence_seen(client, room):
    """The members ``client`` believes are in ``room``, from its presence.state and diffs (as a browser keeps them)."""
    members = {}
    for name, data in list(client.events):
        if name == "presence.state" and data["room"] == room:
            members = {m["user_id"]: m for m in data["members"]}
        elif name == "presence.diff" and data["room"] == room:
            members.update({m["user_id"]: m for m in data["joins"] + data["updates"]})
            for m in data["leaves"]:
                members.pop(m["user_id"], None)
    return members


def test_losing_access_always_tells_the_room(realtime, team, factory):
    """Twenty removals of a member with a tab on each process: the room hears the leave
    every time. Both processes take their tab out at the same moment; each used to record
    its presence diff after its Redis transaction, so "one tab left" could land after
    "left" and fold into "came back" (``diffs.py``)."""
    a, b = realtime.server(), realtime.server()
    owner_headers = factory.headers(team["owner"])
    member_id = team["member"].id
    watcher = realtime.client(b, team["owner"])
    assert watcher.join("project:WEB")["ok"]
    tabs = [realtime.client(a, team["member"]), realtime.client(b, team["member"])]
    failures = []
    for attempt in range(20):
        response = requests.put(f"{a.url}/api/v1/projects/WEB/members/{member_id}", json={"role": "member"},
                                headers=owner_headers)
        assert response.status_code == 200, response.text
        for tab in tabs:
            assert tab.join("project:WEB")["ok"]
        assert watcher.wait_for(
            lambda _ev: presence_seen(watcher, "project:WEB").get(member_id, {}).get("connections") == 2)
        response = requests.delete(f"{b.url}/api/v1/projects/WEB/members/{member_id}", headers=owner_headers)
        assert response.status_code == 204
        if not watcher.wait_for(lambda _ev: member_id not in presence_seen(watcher, "project:WEB"), timeout=10):
            failures.append((attempt, presence_seen(watcher, "project:WEB")[member_id]))
    assert failures == []


def test_a_socket_gets_each_event_once_whichever_of_its_rooms_bring_it(realtime, team, factory):
    """Live, in ``events.bulk``, from either process or a worker, and in a join's replay: a
    socket in ``project:WEB`` and ``issue:N`` gets each event of issue N once, in seq order."""
    from app.comments.service import create_comment
    from app.extensions import db
    from app.models import Issue, User
    from app.realtime.broadcast import BULK_THRESHOLD, rooms_for

    a, b = realtime.server(), realtime.server()
    headers = factory.headers(team["owner"])
    watched, other = create(a, headers, "watched")["id"], create(b, headers, "other")["id"]  # seqs 2 and 3

    def comment(server, issue_id, body):
        response = requests.post(f"{server.url}/api/v1/issues/{issue_id}/comments", json={"body": body},
                                 headers=headers)
        assert response.status_code == 201, response.text

    in_both = [realtime.client(a, team["member"]), realtime.client(b, team["member"])]  # one on each process
    for client in in_both:
        assert client.join("project:WEB")["ok"] and client.join(f"issue:{watched}")["ok"]
    two_issues = realtime.client(b, team["member"])
    assert two_issues.join(f"issue:{watched}")["ok"] and two_issues.join(f"issue:{other}")["ok"]
    comment(b, watched, "live")
    comment(a, other, "elsewhere")
    with realtime.emitter().app_context():  # a worker's chunk: many events of the issue in one commit
        issue, owner = db.session.get(Issue, watched), db.session.get(User, team["owner"].id)
        for n in range(BULK_THRESHOLD + 2):
            create_comment(issue, owner, f"bulk {n}", commit=False)
        db.session.commit()
    comment(a, watched, "after the bulk")
    feed = requests.get(f"{a.url}/api/v1/projects/WEB/events?limit=200", headers=headers).json()["items"]
    latest = feed[-1]["seq"]

    def expected(rooms, after=3):
        return [e["seq"] for e in feed if e["seq"] > after and set(rooms_for(e)) & set(rooms)]

    for client, rooms in [(in_both[0], ["project:WEB"]), (in_both[1], ["project:WEB"]),
                          (two_issues, [f"issue:{watched}", f"issue:{other}"])]:
        assert client.wait_for(lambda _ev, client=client: client.seqs()[-1:] == [latest], timeout=10)
        time.sleep(0.3)
        assert client.seqs() == expected(rooms)
    assert [d["room"] for d in in_both[0].received("events.bulk")] == ["project:WEB"]  # the room it has them through
    assert [d["room"] for d in two_issues.received("events.bulk")] == [f"issue:{watched}"]

    # Catch-up: the replay of a room brings only what the socket's other rooms did not.
    late = realtime.client(a, team["member"])
    assert late.join("project:WEB")["seq"] == latest
    comment(b, watched, "live, through the project's room")
    assert late.wait_for(lambda _ev: late.seqs() == [latest + 1])
    assert late.join(f"issue:{watched}", after_seq=1)["seq"] == latest + 1
    issue_first = realtime.client(b, team["member"])
    assert issue_first.join(f"issue:{watched}", after_seq=1)["ok"]
    assert issue_first.join("project:WEB", after_seq=1)["ok"]
    comment(a, watched, "live again")
    for client in (late, issue_first):
        assert client.wait_for(lambda _ev, client=client: client.seqs()[-1:] == [latest + 2], timeout=10)
    time.sleep(0.3)
    # the issue's events up to the project room's join, replayed in order, between the live ones
    assert late.seqs() == [latest + 1] + expected([f"issue:{watched}"], after=1) + [latest + 2]
    assert sorted(issue_first.seqs()) == list(range(2, latest + 3))  # every event of the project, each once
