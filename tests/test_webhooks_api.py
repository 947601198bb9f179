"""Webhooks over REST: who may manage them, what input is refused, the secret shown once,
rotation, and the SSRF rule at creation (CONTRACT section 14)."""
import pytest

from tests.conftest import scalar

PUBLIC_URL = "http://93.184.215.14/hook"  # a public address literal: needs no DNS here


@pytest.fixture
def allow_private(app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", True)


@pytest.fixture
def project_and_owner(factory):
    owner = factory.user()
    return factory.project(owner), factory.headers(owner)


def create(client, headers, key="WEB", **body):
    return client.post(f"/api/v1/projects/{key}/webhooks", json={"url": PUBLIC_URL, **body}, headers=headers)


def test_create_answers_the_secret_once_and_sends_nothing(client, project_and_owner):
    _project, headers = project_and_owner
    created = create(client, headers, events=["issue.*", "comment.created"], description="CI")
    assert created.status_code == 201, created.json
    body = created.json
    assert body["secret"].startswith("whsec_") and body["project"] == "WEB"
    assert body["events"] == ["issue.*", "comment.created"] and body["active"] is True
    assert body["disabled_reason"] is None and body["version"] == 1 and created.headers["ETag"] == '"1"'
    shown = client.get(f"/api/v1/webhooks/{body['id']}", headers=headers).json
    assert "secret" not in shown and shown["url"] == PUBLIC_URL
    listed = client.get("/api/v1/projects/WEB/webhooks", headers=headers).json["items"]
    assert [w["id"] for w in listed] == [body["id"]] and "secret" not in listed[0]
    assert scalar("SELECT count(*) FROM webhook_deliveries") == 0
    assert scalar("SELECT count(*) FROM audit_log WHERE action = 'webhook.created'") == 1


def test_events_default_to_every_project_type(client, project_and_owner):
    assert create(client, project_and_owner[1]).json["events"] == ["*"]


@pytest.mark.parametrize(("role", "status"), [("none", 404), ("viewer", 403), ("member", 403),
                                              ("maintainer", 201), ("admin", 201)])
def test_only_maintainers_and_admins_manage_a_project_s_webhooks(client, factory, project_and_owner, role, status):
    project, owner_headers = project_and_owner
    headers = factory.role_headers(project, role)
    assert create(client, headers).status_code == status
    existing = create(client, owner_headers).json["id"]
    expected_read = 200 if status == 201 else status
    assert client.get(f"/api/v1/webhooks/{existing}", headers=headers).status_code == expected_read
    assert client.get("/api/v1/projects/WEB/webhooks", headers=headers).status_code == expected_read
    assert client.get(f"/api/v1/webhooks/{existing}/deliveries", headers=headers).status_code == expected_read
    assert client.patch(f"/api/v1/webhooks/{existing}", json={"active": False},
                        headers=headers).status_code == expected_read
    assert client.post(f"/api/v1/webhooks/{existing}/rotate-secret", headers=headers).status_code == expected_read
    assert client.delete(f"/api/v1/webhooks/{existing}", headers=headers).status_code == (
        204 if status == 201 else status)


def test_another_project_s_maintainer_sees_nothing(client, factory, project_and_owner):
    _project, owner_headers = project_and_owner
    hook = create(client, owner_headers).json["id"]
    other = factory.user()
    factory.project(other, key="OPS")
    headers = factory.headers(other)
    assert client.get(f"/api/v1/webhooks/{hook}", headers=headers).status_code == 404
    assert client.delete(f"/api/v1/webhooks/{hook}", headers=headers).status_code == 404
    assert scalar("SELECT count(*) FROM webhooks") == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"url": 5}, "url"),
    ({"url": ""}, "url"),
    ({"url": "http://93.184.215.14/" + "a" * 2000}, "url"),
    ({"url": "ftp://93.184.215.14/hook"}, "url"),
    ({"url": "not a url"}, "url"),
    ({"url": "http://user:pw@93.184.215.14/"}, "url"),
    ({"url": PUBLIC_URL, "events": "issue.*"}, "events"),
    ({"url": PUBLIC_URL, "events": []}, "events"),
    ({"url": PUBLIC_URL, "events": ["issue.**"]}, "events/0"),
    ({"url": PUBLIC_URL, "events": ["backup.*"]}, "events"),
    ({"url": PUBLIC_URL, "events": ["x" * 100]}, "events/0"),
    ({"url": PUBLIC_URL, "active": "yes"}, "active"),
    ({"url": PUBLIC_URL, "description": "d" * 501}, "description"),
    ({"url": PUBLIC_URL, "secret": "whsec_mine"}, "secret"),
    ({}, "url"),
])
def test_bad_input_is_a_422_naming_the_field_and_changes_nothing(client, project_and_owner, body, field):
    answer = client.post("/api/v1/projects/WEB/webhooks", json=body, headers=project_and_owner[1])
    assert answer.status_code == 422 and answer.content_type == "application/problem+json"
    assert field in answer.json["errors"], answer.json
    assert scalar("SELECT count(*) FROM webhooks") == 0


def test_malformed_json_is_400(client, project_and_owner):
    answer = client.post("/api/v1/projects/WEB/webhooks", data=b'{"url": ', headers={
        **project_and_owner[1], "Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.content_type == "application/problem+json"


def test_unknown_ids_are_404(client, project_and_owner):
    headers = project_and_owner[1]
    for path in ("/api/v1/webhooks/999", "/api/v1/webhooks/999/deliveries", "/api/v1/webhooks/deliveries/999",
                 "/api/v1/webhooks/99999999999999999999"):
        assert client.get(path, headers=headers).status_code == 404
    assert client.post("/api/v1/webhooks/deliveries/999/redeliver", headers=headers).status_code == 404
    assert client.post("/api/v1/projects/NOPE/webhooks", json={"url": PUBLIC_URL}, headers=headers).status_code == 404


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://169.254.169.254/latest/meta-data/",
    "http://10.1.2.3/", "http://192.168.0.1/", "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/",
    "https://100.100.100.200/", "http://no-such-host.invalid/",
])
def test_a_url_that_reaches_inside_is_refused_at_creation(client, project_and_owner, url):
    answer = create(client, project_and_owner[1], url=url)
    assert answer.status_code == 422 and "url" in answer.json["errors"], answer.json
    hook = create(client, project_and_owner[1]).json["id"]
    assert client.patch(f"/api/v1/webhooks/{hook}", json={"url": url},
                        headers=project_and_owner[1]).status_code == 422
    assert scalar("SELECT url FROM webhooks") == PUBLIC_URL


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://localhost/hook",
                                 "http://169.254.169.254/latest/meta-data/"])
def test_webhook_allow_private_lets_such_urls_in(client, project_and_owner, allow_private, url):
    assert create(client, project_and_owner[1], url=url).status_code == 201


def test_patch_checks_if_match_and_reactivating_clears_the_reason(client, project_and_owner):
    from app.extensions import db
    from app.models import Webhook

    headers = project_and_owner[1]
    hook = create(client, headers).json["id"]
    row = db.session.get(Webhook, hook)
    row.active, row.disabled_reason = False, "The receiver answered 410 Gone: the webhook was disabled."
    db.session.commit()
    stale = client.patch(f"/api/v1/webhooks/{hook}", json={"active": True}, headers={**headers, "If-Match": '"7"'})
    assert stale.status_code == 412
    answer = client.patch(f"/api/v1/webhooks/{hook}", json={"active": True, "events": ["comment.*"]},
                          headers={**headers, "If-Match": '"1"'})
    assert answer.status_code == 200 and answer.json["active"] is True and answer.json["disabled_reason"] is None
    assert answer.json["events"] == ["comment.*"] and answer.json["version"] == 2 and "secret" not in answer.json


def test_rotation_shows_the_new_secret_and_keeps_the_old_one_for_24_hours(client, project_and_owner):
    from datetime import timedelta

    from app.extensions import db
    from app.models import Webhook
    from app.models.base import utcnow

    headers = project_and_owner[1]
    created = create(client, headers).json
    rotated = client.post(f"/api/v1/webhooks/{created['id']}/rotate-secret", headers=headers)
    assert rotated.status_code == 200 and rotated.json["secret"] != created["secret"]
    assert rotated.json["version"] == 2
    row = db.session.get(Webhook, created["id"])
    db.session.refresh(row)
    assert row.previous_secret == created["secret"]
    assert abs((row.previous_secret_until - utcnow()) - timedelta(hours=24)) < timedelta(minutes=1)


def test_admin_webhooks_are_for_admins_and_backup_and_alert_events(client, factory, project_and_owner):
    admin = factory.headers(factory.admin())
    maintainer = project_and_owner[1]
    assert client.post("/api/v1/admin/webhooks", json={"url": PUBLIC_URL}, headers=maintainer).status_code == 403
    assert client.get("/api/v1/admin/webhooks", headers=maintainer).status_code == 403
    created = client.post("/api/v1/admin/webhooks", json={"url": PUBLIC_URL}, headers=admin)
    assert created.status_code == 201 and created.json["project"] is None
    assert created.json["events"] == ["backup.*", "alert.*"]
    refused = client.post("/api/v1/admin/webhooks", json={"url": PUBLIC_URL, "events": ["issue.*"]}, headers=admin)
    assert refused.status_code == 422 and "events" in refused.json["errors"]
    assert client.get(f"/api/v1/webhooks/{created.json['id']}", headers=maintainer).status_code == 404
    assert [w["id"] for w in client.get("/api/v1/admin/webhooks", headers=admin).json["items"]] == [created.json["id"]]


def test_ping_of_an_inactive_webhook_is_409(client, project_and_owner):
    headers = project_and_owner[1]
    hook = create(client, headers, active=False).json["id"]
    assert client.post(f"/api/v1/webhooks/{hook}/ping", headers=headers).status_code == 409
    assert scalar("SELECT count(*) FROM webhook_deliveries") == 0
