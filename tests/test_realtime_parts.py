"""The parts of the real-time layer, in process: diffs, the catch-up gate, bulk messages,
ordered emission, presence in Redis, batch progress, and the embedded worker's emits."""
import random
import threading
import time
import uuid

import pytest

from app.realtime import broadcast, diffs, presence, sequencer
from app.realtime.catchup import Gate
from tests.support.commits import replace_broadcast  # noqa: F401


def member(user_id, connections=1, status="viewing"):
    return {"user_id": user_id, "name": f"U{user_id}", "connections": connections, "state": {"status": status}}


@pytest.mark.parametrize("changes, expected", [
    ([("joins", member(1)), ("leaves", member(1, 0))], {"joins": [], "leaves": [], "updates": []}),
    ([("leaves", member(1, 0)), ("joins", member(1))], {"joins": [], "leaves": [], "updates": [member(1)]}),
    ([("joins", member(1)), ("updates", member(1, 1, "typing"))],
     {"joins": [member(1, 1, "typing")], "leaves": [], "updates": []}),
    ([("updates", member(2, 1, "typing")), ("updates", member(2, 1, "editing")), ("joins", member(1))],
     {"joins": [member(1)], "leaves": [], "updates": [member(2, 1, "editing")]}),
])
def test_diffs_fold_changes_per_user(changes, expected):
    assert diffs.fold(changes) == expected


def event(seq, room_issue=None):
    data = {"issue": {"id": room_issue}} if room_issue else {}
    kind = "issue.updated" if room_issue else "issue.created"  # (issue.created skips the issue's room)
    return {"id": seq, "seq": seq, "project": "WEB", "type": kind, "actor_id": 1, "at": "", "data": data}


def targets(*events):
    return [(e, broadcast.rooms_for(e)) for e in events]


def test_gate_holds_a_catching_up_socket_s_events_then_sends_only_what_the_replay_did_not_cover():
    gate, sent = Gate(), []
    view = {"project:WEB"}
    gate.delivered(targets(event(3), event(4, room_issue=9)), {"project:WEB", "issue:9"})
    assert gate.open("s1", "WEB", {"issue:9": None}) == {"issue:9": 4}  # the last event the room had here
    track = gate.track("s1", "WEB")
    assert gate.pick(track, targets(event(5)), view) == []  # held, not sent
    assert gate.pick(track, targets(event(6), event(7)), view) == []
    gate.release("s1", "WEB", 6, view, lambda sid, name, data: sent.append((sid, name, data["seq"])))
    assert sent == [("s1", "issue.created", 7)]  # what the replay (up to 6) did not cover
    assert gate.pick(track, targets(event(6)), view) == []  # a late live copy: skipped
    assert [e["seq"] for e, _rooms in gate.pick(track, targets(event(6), event(8)), view)] == [8]
    gate.prune(0, set())
    assert gate.tracks == {} and gate.cursors == {}


@pytest.mark.parametrize("seq, rooms, others, expected", [
    (5, ("project:WEB", "issue:9"), {}, True),  # missed, and no other room
    (3, ("project:WEB", "issue:9"), {}, False),  # before after_seq
    (8, ("project:WEB",), {}, False),  # another issue's: not the joined room's
    (12, ("project:WEB", "issue:9"), {"project:WEB": (10, 15)}, False),  # the project room brought it
    (7, ("project:WEB", "issue:9"), {"project:WEB": (10, 15)}, True),  # before the project room's stay began
    (17, ("project:WEB",), {"project:WEB": (10, 15)}, True),  # still on its way to the project room: sent now
])
def test_a_replay_sends_what_no_other_room_of_the_socket_brought(seq, rooms, others, expected):
    """Joining ``issue:9`` after seq 4, while maybe in ``project:WEB`` since seq 10 (which
    has brought up to seq 15 so far)."""
    from app.realtime.catchup import wanted

    assert wanted(seq, rooms, "issue:9", 4, others) is expected


def test_many_events_for_one_room_go_as_bulk_in_order():
    few = [event(n) for n in range(1, broadcast.BULK_THRESHOLD + 1)]
    assert [name for name, _ in broadcast.bulk_messages("project:WEB", few)] == ["issue.created"] * len(few)
    many = [event(n) for n in range(1, broadcast.BULK_SIZE + 3)]
    messages = broadcast.bulk_messages("project:WEB", many)
    assert [name for name, _ in messages] == ["events.bulk", "events.bulk"]
    assert [e["seq"] for _, data in messages for e in data["events"]] == list(range(1, broadcast.BULK_SIZE + 3))


@pytest.fixture
def sent():
    """What the sequencer lets through, in order."""
    return []


def test_sequencer_parks_a_later_writers_events_until_the_earlier_one_sends(app, sent):
    send = lambda events: sent.extend(e["seq"] for e in events)  # noqa: E731
    sequencer.send_in_order("ORD", [event(1)], send)
    sequencer.send_in_order("ORD", [event(4), event(5)], send)  # parked: 2 and 3 come first
    sequencer.send_in_order("ORD", [event(3)], send)  # parked too; the writer does not wait
    assert sent == [1]
    sequencer.send_in_order("ORD", [event(2)], send)  # sends what it unblocked, in order
    assert sent == [1, 2, 3, 4, 5]
    sequencer.send_in_order("ORD", [event(6)], send)
    assert sent == [1, 2, 3, 4, 5, 6]
    from app.redis_client import get_redis

    assert not get_redis(app).exists(sequencer.PARKED_KEY.format(key="ORD"))


def test_sequencer_keeps_order_across_concurrent_writers(app, sent):
    send = lambda events: sent.extend(e["seq"] for e in events)  # noqa: E731
    sequencer.send_in_order("MANY", [event(1)], send)
    seqs = list(range(2, 42))
    random.Random(7).shuffle(seqs)

    def write(seq):
        with app.app_context():
            sequencer.send_in_order("MANY", [event(seq)], send)

    threads = [threading.Thread(target=write, args=(seq,)) for seq in seqs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert sent == list(range(1, 42))


@pytest.mark.parametrize("who_sends", ["the next writer", "the upkeep"])
def test_sequencer_sends_a_dead_writers_events_from_the_table_once(app, factory, monkeypatch, sent, who_sends,
                                                                  replace_broadcast):
    monkeypatch.setattr(sequencer, "WAIT_SECONDS", 0.2)
    replace_broadcast(lambda payloads: None)  # the set-up's writes are not sent
    monkeypatch.setattr(broadcast, "send_overdue", lambda: None)  # this test's upkeep is the call below
    owner = factory.user()
    project = factory.project(owner, "DEAD")  # seq 1
    factory.issue(project, owner, title="lost")  # seq 2: its writer "dies" before emitting
    factory.issue(project, owner, title="waiting")  # seq 3
    factory.issue(project, owner, title="next")  # seq 4
    from app.events.service import serialize_event
    from app.models import Event

    from app.extensions import db

    rows = {row.seq: serialize_event(row, "DEAD") for row in Event.query.filter_by(project_id=project.id)}
    db.session.rollback()  # SQLite: the sequencer reads on a connection of its own

    def send(events):
        sent.extend((e["seq"], e["data"]["issue"]["title"]) for e in events if e["seq"] > 1)

    sequencer.send_in_order("DEAD", [rows[1]], send)
    sequencer.send_in_order("DEAD", [rows[3]], send)  # parked behind seq 2
    assert sent == []
    time.sleep(0.25)
    if who_sends == "the upkeep":
        sequencer.send_overdue(send)
        sequencer.send_in_order("DEAD", [rows[2]], send)  # the writer was only slow: not sent twice
        sequencer.send_in_order("DEAD", [rows[4]], send)
    else:
        sequencer.send_in_order("DEAD", [rows[4]], send)
        sequencer.send_in_order("DEAD", [rows[2]], send)  # the writer was only slow: not sent twice
    assert sent == [(2, "lost"), (3, "waiting"), (4, "next")]


def test_sequencer_starts_over_after_a_rewind(app, sent):
    send = lambda events: sent.extend(e["seq"] for e in events)  # noqa: E731
    for seq in (1, 2, 3):
        sequencer.send_in_order("REW", [event(seq)], send)
    sequencer.send_in_order("REW", [event(1)], send)  # the database was restored: seq 1 again
    sequencer.send_in_order("REW", [event(2)], send)
    assert sent == [1, 2, 3, 1, 2]


@pytest.fixture
def redis_app(make_app, redis_url):
    app = make_app(REDIS_URL=redis_url)
    with app.app_context():
        yield app


def test_presence_is_one_member_per_user_and_leaves_are_taken_once(redis_app):
    alice, bob = {"id": 1, "name": "Alice"}, {"id": 2, "name": "Bob"}
    assert presence.add("project:WEB", "a1", alice, "srv", "WEB")["connections"] == 1
    assert presence.add("project:WEB", "a2", alice, "srv", "WEB")["connections"] == 2
    presence.add("project:WEB", "b1", bob, "srv", "WEB")
    before, after = presence.set_state("project:WEB", "a2", 1, {"status": "typing"})
    assert before["state"] == {"status": "viewing"} and after["state"] == {"status": "typing"}
    assert [(m["name"], m["connections"], m["state"]["status"]) for m in presence.members("project:WEB")] == [
        ("Alice", 2, "typing"), ("Bob", 1, "viewing")]
    left, remaining = presence.remove("project:WEB", "a1", 1, "srv")
    assert left["connections"] == 0 and remaining["connections"] == 1
    assert presence.remove("project:WEB", "a1", 1, "srv") == (None, None)  # a second remover gets nothing
    left, remaining = presence.remove("project:WEB", "a2", 1, "srv")
    assert left["user_id"] == 1 and remaining is None
    assert [m["name"] for m in presence.members("project:WEB")] == ["Bob"]


def test_presence_of_a_process_whose_lease_lapsed_is_swept(redis_app):
    from app.realtime import upkeep

    presence.renew_lease("dead-one", 0.05)
    presence.add("project:WEB", "x1", {"id": 7, "name": "Ghost"}, "dead-one", "WEB")
    presence.renew_lease("live-one", 30)
    presence.add("project:WEB", "y1", {"id": 8, "name": "Alive"}, "live-one", "WEB")
    assert [m["name"] for m in diffs.take("project:WEB")["joins"]] == ["Ghost", "Alive"]
    time.sleep(0.3)  # the lease lapses, and so does the diff's window
    upkeep.sweep_dead_servers()
    assert [m["name"] for m in presence.members("project:WEB")] == ["Alive"]
    assert diffs.take("project:WEB")["leaves"][0]["name"] == "Ghost"
    assert presence.dead_servers("live-one") == []


def test_online_counts_count_distinct_users_and_connections_of_the_projects(factory, make_app, redis_url):
    owner = factory.user()
    web, api = factory.project(owner, "WEB"), factory.project(owner, "API")
    with make_app(REDIS_URL=redis_url).app_context():
        online_counts_case(web, api)


def online_counts_case(web, api):
    assert presence.online_counts([web.id, api.id]) == {"online_users": 0, "connections": 0}
    presence.add("project:WEB", "s1", {"id": 1, "name": "A"}, "srv", "WEB")
    presence.add("issue:9", "s1", {"id": 1, "name": "A"}, "srv", "WEB")
    presence.add("project:WEB", "s2", {"id": 1, "name": "A"}, "srv", "WEB")
    presence.add("project:API", "s3", {"id": 2, "name": "B"}, "srv", "API")
    assert presence.online_counts([web.id]) == {"online_users": 1, "connections": 2}
    assert presence.online_counts([web.id, api.id]) == {"online_users": 2, "connections": 3}
    assert presence.online_counts([]) == {"online_users": 0, "connections": 0}


def test_batch_progress_is_throttled_with_the_latest_counts_last(monkeypatch):
    emitted = []
    monkeypatch.setattr(broadcast, "emit", lambda name, payload, to: emitted.append((name, payload["done"], to)))
    for done in range(1, 6):
        broadcast.batch_progress({"id": 9, "done": done, "total": 10, "succeeded": done, "failed": 0}, user_id=4)
    assert emitted == [("batch.progress", 1, ["batch:9", "user:4"])]
    time.sleep(0.4)
    assert [done for _, done, _ in emitted] == [1, 5]  # the latest, once the window ended
    record = {"id": 9, "done": 10, "total": 10, "succeeded": 9, "failed": 1, "status": "partially_succeeded"}
    broadcast.batch_finished(record, user_id=4)
    assert [(name, done) for name, done, _ in emitted[2:]] == [("batch.progress", 10), ("batch.finished", 10)]


def test_the_embedded_worker_thread_emits_in_process(make_app, factory):
    """Embedded mode: no message queue; a job run by the worker thread reaches sockets."""
    from app.extensions import socketio
    from app.redis_client import get_redis
    from app.worker import ThreadWorker, enqueue_job, get_queue, set_job_app
    from tests.support.jobs import create_issue_as

    app = make_app(REDIS_URL=None, SOCKETIO_MESSAGE_QUEUE=None)
    owner = factory.user("Owner")
    factory.project(owner, "EMB")
    client = socketio.test_client(app, namespace="/realtime", auth={"token": factory.token(owner)})
    try:
        assert client.emit("join", {"room": "project:EMB"}, namespace="/realtime", callback=True)["ok"]
        with app.app_context():
            enqueue_job(create_issue_as, owner.id, "EMB", "from the thread", job_type="test")
            set_job_app(app)
            worker = ThreadWorker([get_queue(app)], connection=get_redis(app))
            thread = threading.Thread(target=worker.work, kwargs={"burst": True, "logging_level": "WARNING"})
            thread.start()
            thread.join(30)
        received = [r["args"][0] for r in client.get_received("/realtime") if r["name"] == "issue.created"]
        assert [e["data"]["issue"]["title"] for e in received] == ["from the thread"]
    finally:
        set_job_app(None)
        client.disconnect(namespace="/realtime")


def test_sequencer_survives_redis_failing_while_it_takes_the_lock(app, sent, monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    send = lambda events: sent.extend(e["seq"] for e in events)  # noqa: E731
    real_redis = sequencer.get_redis()

    class Down:
        def set(self, *_args, **_kwargs):
            raise RedisConnectionError("down")

    key = f"DOWN{uuid.uuid4().hex[:6]}"  # a lock leaked by one run must not hang the next
    monkeypatch.setattr(sequencer, "get_redis", lambda: Down())
    with pytest.raises(RedisConnectionError):
        sequencer.send_in_order(key, [event(1)], send)
    monkeypatch.setattr(sequencer, "get_redis", lambda: real_redis)
    done = threading.Event()

    def write():
        with app.app_context():
            sequencer.send_in_order(key, [event(1)], send)
        done.set()

    threading.Thread(target=write, daemon=True).start()
    assert done.wait(5), "the next writer hung on the lock of the one that failed"
    assert sent == [1]


def test_the_sequencer_keeps_no_process_lock_for_a_project_no_writer_is_using(app, sent):
    """A lock per project key kept for ever grows with every project a server ever sees."""
    send = lambda events: sent.extend(e["seq"] for e in events)  # noqa: E731
    keys = [f"LOCKS{uuid.uuid4().hex[:6]}" for _ in range(20)]

    def write(key):
        with app.app_context():
            sequencer.send_in_order(key, [event(1)], send)

    threads = [threading.Thread(target=write, args=(key,)) for key in keys for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(sent) == 60
    assert len(sequencer._process_locks) == 0


def test_batch_progress_forgets_the_batches_that_went_quiet(monkeypatch):
    """A batch that finished in another process (or whose runner died) is never taken out
    by ``batch_finished`` here: it must not stay for the life of the process."""
    monkeypatch.setattr(broadcast, "emit", lambda name, payload, to: None)
    monkeypatch.setattr(broadcast, "PROGRESS_KEPT", 0.05)
    quiet = range(7000, 7100)
    for batch_id in quiet:
        broadcast.batch_progress({"id": batch_id, "done": 1, "total": 2, "succeeded": 1, "failed": 0}, user_id=4)
    time.sleep(0.1)
    broadcast.batch_progress({"id": 7100, "done": 1, "total": 2, "succeeded": 1, "failed": 0}, user_id=4)
    assert not set(quiet) & set(broadcast._progress)
    assert 7100 in broadcast._progress
    broadcast.batch_finished({"id": 7100, "done": 2, "total": 2, "succeeded": 2, "failed": 0}, user_id=4)


def test_an_emit_to_a_room_with_no_socket_here_builds_no_packet(app, factory, monkeypatch):
    """python-socketio encodes a packet even for a room with no one in it: 90 ms for the
    10,000 events of a batch, in every server process with no socket in the project's room."""
    from app.extensions import socketio

    owner = factory.user("Owner")
    factory.project(owner, "EMP")
    built = []

    class Counting(socketio.server.packet_class):
        def __init__(self, *args, **kwargs):
            built.append(kwargs.get("data"))
            super().__init__(*args, **kwargs)

    client = socketio.test_client(app, namespace="/realtime", auth={"token": factory.token(owner)})
    try:
        monkeypatch.setattr(socketio.server, "packet_class", Counting)
        many = [{**event(n), "project": "EMP"} for n in range(2, 2 + broadcast.BULK_THRESHOLD + 1)]
        broadcast.emit(broadcast.DELIVER, {"project": "EMP", "events": many}, "project:EMP")
        assert built == []
        assert client.emit("join", {"room": "project:EMP"}, namespace="/realtime", callback=True)["ok"]
        client.get_received("/realtime")
        broadcast.emit(broadcast.DELIVER, {"project": "EMP", "events": many}, "project:EMP")
        received = client.get_received("/realtime")
        assert [(r["name"], [e["seq"] for e in r["args"][0]["events"]]) for r in received] == [
            ("events.bulk", [e["seq"] for e in many])]
    finally:
        client.disconnect(namespace="/realtime")


def test_a_leave_is_never_folded_away_by_the_update_recorded_before_it(redis_app, monkeypatch):
    """Two processes take a user's last two connections out of a room at the same moment
    (access lost): the one that removed first, then stalled, must not record its
    "one connection left" after the other's leave, or the room never hears the leave."""
    from app.realtime import connections, namespace
    from app.realtime.connections import Connection, Joined, server_id

    user = {"id": 5, "name": "Leaving", "is_admin": False}
    tabs = [Connection(sid=sid, user=user, token_id=1, token_hash="x", rooms={"project:WEB": Joined("WEB", 1)})
            for sid in ("s1", "s2")]
    for tab in tabs:
        connections.add(tab)
        presence.add("project:WEB", tab.sid, user, server_id(), "WEB")
    diffs.take("project:WEB")
    diffs.get_redis().delete(diffs.LOCK_KEY.format(room="project:WEB"))
    real_remove = presence.remove

    def stalled_remove(room, sid, *args, **kwargs):
        removed = real_remove(room, sid, *args, **kwargs)
        if sid == "s1":
            time.sleep(0.3)  # descheduled right after its Redis transaction
        return removed

    monkeypatch.setattr(presence, "remove", stalled_remove)
    try:
        def drop_first():
            with redis_app.app_context():
                namespace.drop_rooms("s1", "project:WEB")

        first = threading.Thread(target=drop_first)
        first.start()
        time.sleep(0.1)
        namespace.drop_rooms("s2", "project:WEB")
        first.join(5)
    finally:
        for tab in tabs:
            connections.pop(tab.sid)
    diff = diffs.take("project:WEB")
    assert [m["user_id"] for m in diff["leaves"]] == [5] and diff["updates"] == []
    assert presence.members("project:WEB") == []


def test_an_event_that_runs_after_its_sockets_disconnect_was_handled_is_refused(app, factory):
    """Each event runs in a green thread of its own: a join sent just before the connection
    dropped can run after the disconnect was handled. It gets a refusal, not a traceback."""
    from app.extensions import socketio
    from app.realtime import connections

    owner = factory.user("Owner")
    factory.project(owner, "GONE")
    client = socketio.test_client(app, namespace="/realtime", auth={"token": factory.token(owner)})
    sid = socketio.server.manager.sid_from_eio_sid(client.eio_sid, "/realtime")
    handled = connections.pop(sid)  # what the disconnect handler does first
    try:
        answers = [client.emit(event, payload, namespace="/realtime", callback=True) for event, payload in [
            ("join", {"room": "project:GONE"}), ("leave", {"room": "project:GONE"}),
            ("presence.update", {"room": "project:GONE", "state": {"status": "typing"}})]]
        assert answers == [{"ok": False, "error": "the connection is closing"}] * 3
    finally:
        connections.add(handled)
        client.disconnect(namespace="/realtime")
