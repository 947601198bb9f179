"""Webhook deliveries end to end: committed changes reach real HTTP receivers in this
process, signed by Standard Webhooks (verified with its reference library), retried on
the contract's terms, logged, redelivered and swept (CONTRACT section 14)."""
import threading
import time
from datetime import timedelta

import fakeredis
import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from app.extensions import db
from app.models import Project, WebhookDelivery
from app.models.base import utcnow
from app.webhooks import jobs
from app.worker import set_job_app
from tests.conftest import scalar
from tests.support.jobs import run_queued_jobs
from tests.support.receiver import Receiver


@pytest.fixture
def receivers():
    made = []

    def make(*answers):
        made.append(Receiver(*answers))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def deliver(app, monkeypatch):
    """Run the queued jobs as a worker would, and wait for their sends to end."""
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", True)
    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_SCHEDULE", [0.2, 0.2])
    monkeypatch.setitem(app.extensions, "beacon_redis", fakeredis.FakeRedis(server=fakeredis.FakeServer()))
    set_job_app(app)

    def run():
        db.session.commit()  # the test's own reads end: on SQLite they hold the write lock
        run_queued_jobs(app)
        assert jobs.senders(app).wait_idle(20)
        db.session.expire_all()

    yield run
    set_job_app(None)


@pytest.fixture
def owner(factory):
    user = factory.user()
    factory.project(user)
    return factory.headers(user)


def add_hook(client, headers, url, **body):
    answer = client.post("/api/v1/projects/WEB/webhooks", json={"url": url, **body}, headers=headers)
    assert answer.status_code == 201, answer.json
    return answer.json


def new_issue(client, headers, title="Broken"):
    answer = client.post("/api/v1/projects/WEB/issues", json={"title": title}, headers=headers)
    assert answer.status_code == 201
    return answer.json


def only_delivery():
    row = db.session.scalars(db.select(WebhookDelivery)).one()
    db.session.commit()
    return row


def redispatch(deliver, wait=0.25):
    db.session.commit()
    time.sleep(wait)
    jobs.dispatch_due()
    deliver()


def test_a_committed_event_arrives_signed_as_on_the_change_feed(client, owner, deliver, receivers):
    receiver = receivers()
    hook = add_hook(client, owner, receiver.url, events=["issue.*"])
    issue = new_issue(client, owner)
    deliver()
    headers, body, path = receiver.wait_for(1)[0]
    assert path == "/hook" and headers["Content-Type"] == "application/json"
    verified = StandardWebhook(hook["secret"]).verify(body, headers)
    feed = client.get("/api/v1/projects/WEB/events?after_seq=1", headers=owner).json["items"]
    assert verified == feed[0] and verified["type"] == "issue.created"
    assert verified["data"]["issue"]["id"] == issue["id"]
    delivery = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=owner).json["items"]
    assert len(delivery) == 1 and delivery[0]["status"] == "succeeded" and delivery[0]["attempts"] == 1
    assert delivery[0]["event_type"] == "issue.created" and delivery[0]["event_id"] == feed[0]["id"]
    assert delivery[0]["response_status"] == 200 and delivery[0]["next_attempt_at"] is None
    assert headers["webhook-id"] == str(delivery[0]["id"])
    detail = client.get(f"/api/v1/webhooks/deliveries/{delivery[0]['id']}", headers=owner).json
    [attempt] = detail["attempt_log"]
    assert attempt["request_headers"]["webhook-signature"] == headers["webhook-signature"]
    assert attempt["request_body"] == body and attempt["response_body"] == "ok"
    assert attempt["response_status"] == 200


def test_the_filter_picks_the_event_types(client, owner, factory, deliver, receivers):
    receiver = receivers()
    add_hook(client, owner, receiver.url, events=["comment.*"])
    issue = new_issue(client, owner)
    client.patch(f"/api/v1/issues/{issue['id']}", json={"title": "Still broken"}, headers=owner)
    deliver()
    assert receiver.requests == [] and scalar("SELECT count(*) FROM webhook_deliveries") == 0
    client.post(f"/api/v1/issues/{issue['id']}/comments", json={"body": "Seen"}, headers=owner)
    deliver()
    assert [StandardWebhook.__name__ and r[1] for r in receiver.wait_for(1)][0].count('"comment.created"') == 1


def test_a_rolled_back_change_is_never_delivered(app, client, owner, deliver, receivers):
    from app.events.service import record_event, savepoint

    receiver = receivers()
    add_hook(client, owner, receiver.url)
    project = db.session.scalars(db.select(Project)).one()
    record_event(project, "project.updated", None, {"changes": {}})
    db.session.rollback()
    with pytest.raises(RuntimeError), savepoint():
        record_event(project, "project.updated", None, {"changes": {"name": ["a", "b"]}})
        raise RuntimeError("undone")
    db.session.commit()
    deliver()
    assert receiver.requests == [] and scalar("SELECT count(*) FROM webhook_deliveries") == 0
    new_issue(client, owner)
    deliver()
    assert len(receiver.wait_for(1)) == 1


def test_a_failed_send_is_retried_under_the_same_id(client, owner, deliver, receivers):
    receiver = receivers((500, {}, b"down", 0), (200, {}, b"ok", 0))
    add_hook(client, owner, receiver.url)
    new_issue(client, owner)
    deliver()
    delivery = only_delivery()
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.response_status == 500
    assert delivery.error == "The receiver answered 500." and delivery.next_attempt_at > utcnow()
    db.session.commit()
    assert jobs.dispatch_due() == 0  # not due yet
    redispatch(deliver)
    first, second = receiver.wait_for(2)
    assert first[0]["webhook-id"] == second[0]["webhook-id"] == str(delivery.id) and first[1] == second[1]
    delivery = only_delivery()
    assert delivery.status == "succeeded" and delivery.attempts == 2


def test_a_delivery_fails_when_the_schedule_runs_out(client, owner, deliver, receivers):
    receiver = receivers((500, {}, b"down", 0))
    add_hook(client, owner, receiver.url)
    new_issue(client, owner)
    deliver()
    redispatch(deliver)
    redispatch(deliver)
    assert len(receiver.wait_for(3)) == 3  # the first send and the schedule's two retries
    redispatch(deliver)
    delivery = only_delivery()
    assert delivery.status == "failed" and delivery.attempts == 3 and len(receiver.requests) == 3
    assert delivery.next_attempt_at is None


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(client, owner, deliver, receivers, status):
    receiver = receivers((status, {"Retry-After": "120"}, b"later", 0))
    add_hook(client, owner, receiver.url)
    new_issue(client, owner)
    deliver()
    wait = (only_delivery().next_attempt_at - utcnow()).total_seconds()
    assert 115 < wait <= 120


def test_410_disables_the_webhook(client, owner, deliver, receivers):
    receiver = receivers((410, {}, b"gone", 0))
    hook = add_hook(client, owner, receiver.url)
    new_issue(client, owner)
    deliver()
    delivery = only_delivery()
    assert delivery.status == "failed" and delivery.response_status == 410
    shown = client.get(f"/api/v1/webhooks/{hook['id']}", headers=owner).json
    assert shown["active"] is False and "410" in shown["disabled_reason"]
    new_issue(client, owner, "Another")
    deliver()
    assert len(receiver.requests) == 1 and scalar("SELECT count(*) FROM webhook_deliveries") == 1


def test_redirects_are_not_followed(client, owner, deliver, receivers):
    target = receivers()
    receiver = receivers((302, {"Location": target.url}, b"", 0))
    add_hook(client, owner, receiver.url)
    new_issue(client, owner)
    deliver()
    assert len(receiver.wait_for(1)) == 1 and target.requests == []
    delivery = only_delivery()
    assert delivery.status == "pending" and delivery.response_status == 302


def test_a_receiver_slower_than_the_timeout_is_a_failed_attempt(app, client, owner, deliver, receivers, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_TIMEOUT_SECONDS", 0.5)
    receiver = receivers((200, {}, b"late", 3))
    add_hook(client, owner, receiver.url)
    new_issue(client, owner)
    started = time.monotonic()
    deliver()
    assert time.monotonic() - started < 2.5
    delivery = only_delivery()
    assert delivery.status == "pending" and delivery.error == "Timed out after 0.5 s."


def test_after_a_rotation_both_secrets_sign_for_24_hours(client, owner, deliver, receivers):
    from app.models import Webhook

    receiver = receivers()
    hook = add_hook(client, owner, receiver.url)
    rotated = client.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret", headers=owner).json
    new_issue(client, owner)
    deliver()
    headers, body, _path = receiver.wait_for(1)[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (hook["secret"], rotated["secret"]):
        assert StandardWebhook(secret).verify(body, headers)["type"] == "issue.created"
    row = db.session.get(Webhook, hook["id"])
    row.previous_secret_until = utcnow() - timedelta(seconds=1)  # the overlap ended
    db.session.commit()
    new_issue(client, owner, "After the overlap")
    deliver()
    headers, body, _path = receiver.wait_for(2)[1]
    assert len(headers["webhook-signature"].split(" ")) == 1
    StandardWebhook(rotated["secret"]).verify(body, headers)
    with pytest.raises(Exception, match="No matching signature"):
        StandardWebhook(hook["secret"]).verify(body, headers)


def test_a_private_address_is_refused_again_at_delivery(app, client, owner, deliver, receivers, monkeypatch):
    receiver = receivers()
    add_hook(client, owner, receiver.url.replace("127.0.0.1", "localhost"))
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", False)  # as if the name now pointed inside
    new_issue(client, owner)
    deliver()
    delivery = only_delivery()
    assert receiver.requests == [] and delivery.status == "pending"
    assert delivery.error == "Refused: The host localhost resolves to 127.0.0.1, a loopback address."


def test_the_log_keeps_the_first_4_kb_of_an_answer(client, owner, deliver, receivers):
    receiver = receivers((200, {}, b"x" * 10_000, 0))
    hook = add_hook(client, owner, receiver.url)
    new_issue(client, owner)
    deliver()
    delivery = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=owner).json["items"][0]
    detail = client.get(f"/api/v1/webhooks/deliveries/{delivery['id']}", headers=owner).json
    assert detail["attempt_log"][0]["response_body"] == "x" * 4096


def test_redeliver_sends_again_under_the_same_id(client, owner, factory, deliver, receivers):
    receiver = receivers()
    add_hook(client, owner, receiver.url)
    new_issue(client, owner)
    deliver()
    delivery = only_delivery()
    stranger = factory.headers(factory.user())
    assert client.post(f"/api/v1/webhooks/deliveries/{delivery.id}/redeliver", headers=stranger).status_code == 404
    answer = client.post(f"/api/v1/webhooks/deliveries/{delivery.id}/redeliver", headers=owner)
    assert answer.status_code == 202 and answer.json["status"] == "pending"
    deliver()
    first, second = receiver.wait_for(2)
    assert first[0]["webhook-id"] == second[0]["webhook-id"] and first[1] == second[1]
    assert only_delivery().attempts == 2 and only_delivery().status == "succeeded"


def test_ping_is_delivered_whatever_the_filter(client, owner, deliver, receivers):
    receiver = receivers()
    hook = add_hook(client, owner, receiver.url, events=["comment.deleted"])
    answer = client.post(f"/api/v1/webhooks/{hook['id']}/ping", headers=owner)
    assert answer.status_code == 202 and answer.json["event_type"] == "webhook.ping"
    deliver()
    headers, body, _path = receiver.wait_for(1)[0]
    assert StandardWebhook(hook["secret"]).verify(body, headers)["data"]["webhook_id"] == hook["id"]


def test_deliveries_older_than_30_days_are_swept(client, owner, deliver, receivers):
    receiver = receivers()
    add_hook(client, owner, receiver.url)
    new_issue(client, owner, "Old")
    new_issue(client, owner, "New")
    deliver()
    old = db.session.scalars(db.select(WebhookDelivery).order_by(WebhookDelivery.id)).first()
    old.created_at = utcnow() - timedelta(days=30, minutes=1)
    db.session.commit()
    assert jobs.sweep_deliveries() == 1
    db.session.commit()
    assert scalar("SELECT count(*) FROM webhook_deliveries") == 1
    assert scalar("SELECT count(*) FROM webhook_attempts") == 1


def test_the_sweep_and_the_dispatcher_are_scheduled(app):
    names = {entry["name"]: entry for entry in app.extensions["beacon_schedule"]}
    assert names["webhook_dispatch"]["func"] is jobs.dispatch_due
    assert names["webhook_sweep"]["func"] is jobs.sweep_deliveries


def test_backup_records_reach_admin_webhooks_only(app, client, factory, owner, deliver, receivers, tmp_path,
                                                   monkeypatch):
    from app.backups import service

    monkeypatch.setitem(app.config, "BACKUP_DIR", str(tmp_path / "repository"))
    monkeypatch.setitem(app.config, "BACKUP_ENCRYPTION_KEY", None)
    admin_receiver, project_receiver = receivers(), receivers()
    admin = factory.headers(factory.admin())
    hook = client.post("/api/v1/admin/webhooks", json={"url": admin_receiver.url}, headers=admin).json
    add_hook(client, owner, project_receiver.url)
    record = service.run_backup(None, "nightly")
    deliver()
    headers, body, _path = admin_receiver.wait_for(1)[0]
    sent = StandardWebhook(hook["secret"]).verify(body, headers)
    assert sent["type"] == "backup.finished" and sent["data"]["id"] == record["id"] and sent["at"].endswith("Z")
    assert project_receiver.requests == []


def test_a_slow_receiver_slows_neither_writes_nor_other_webhooks(app, client, owner, deliver, receivers):
    slow = receivers((200, {}, b"slow", 3))
    fast = receivers()
    add_hook(client, owner, slow.url)
    add_hook(client, owner, fast.url)
    stop = threading.Event()

    def work():  # a worker taking jobs while the writes go on
        while not stop.is_set():
            run_queued_jobs(app)
            time.sleep(0.02)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    try:
        took = []
        for n in range(8):
            started = time.monotonic()
            new_issue(client, owner, f"Issue {n}")
            took.append(time.monotonic() - started)
            db.session.commit()  # on SQLite the test's session would hold the write lock
            fast.wait_for(n + 1, timeout=2)  # each reaches the fast receiver within 2 s of its commit
        assert max(took) < 0.5, took
        assert len(slow.requests) <= 4  # the slow one holds at most its cap of senders
    finally:
        stop.set()
        worker.join()
        assert jobs.senders(app).wait_idle(30)


def test_a_write_succeeds_when_its_deliveries_cannot_be_queued(app, client, owner, deliver, receivers, monkeypatch,
                                                               caplog):
    import redis

    from tests.support.live import free_port

    add_hook(client, owner, receivers().url)
    monkeypatch.setitem(app.extensions, "beacon_redis", redis.Redis(port=free_port(), socket_connect_timeout=0.5))
    issue = new_issue(client, owner)
    assert client.get(f"/api/v1/issues/{issue['id']}", headers=owner).status_code == 200
    assert "could not queue the webhook deliveries" in caplog.text


def test_another_project_s_maintainer_cannot_read_or_redeliver_a_delivery(client, owner, factory, deliver, receivers):
    add_hook(client, owner, receivers().url)
    new_issue(client, owner)
    deliver()
    delivery = only_delivery()
    other = factory.user()
    factory.project(other, key="OPS")
    headers = factory.headers(other)
    assert client.get(f"/api/v1/webhooks/deliveries/{delivery.id}", headers=headers).status_code == 404
    assert client.post(f"/api/v1/webhooks/deliveries/{delivery.id}/redeliver", headers=headers).status_code == 404
    member = factory.user()
    factory.member(db.session.scalars(db.select(Project).filter_by(key="WEB")).one(), member, "member")
    assert client.get(f"/api/v1/webhooks/deliveries/{delivery.id}",
                      headers=factory.headers(member)).status_code == 403


def test_deleting_a_project_deletes_its_webhooks_and_deliveries(client, owner, deliver, receivers):
    add_hook(client, owner, receivers().url)
    new_issue(client, owner)
    deliver()
    assert client.delete("/api/v1/projects/WEB", headers=owner).status_code == 204
    assert scalar("SELECT count(*) FROM webhooks") == 0
    assert scalar("SELECT count(*) FROM webhook_deliveries") == 0 and scalar("SELECT count(*) FROM webhook_attempts") == 0
