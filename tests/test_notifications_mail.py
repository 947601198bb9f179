"""Notification e-mails through a real SMTP server (aiosmtpd, in the test process), sent by
RQ jobs run by a real RQ worker: instant mails, the scheduled digest, nothing to users
who are deactivated or chose ``off``, and the signed one-click unsubscribe link."""
import email
import threading
from email import policy

import pytest
from aiosmtpd.controller import Controller

from app.extensions import db
from app.models import Notification, User
from tests.support.live import free_port


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"

    def to(self, address):
        with self.lock:
            return [message for rcpt, message in self.messages if address in rcpt]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.url = f"smtp://127.0.0.1:{controller.port}"
    yield inbox
    controller.stop()


@pytest.fixture
def mailing(app, smtp, monkeypatch):
    """The app mailing through ``smtp``, its jobs on a private queue run by an RQ worker."""
    import fakeredis

    from app.worker import set_job_app
    from tests.support.jobs import run_queued_jobs

    monkeypatch.setitem(app.config, "SMTP_URL", smtp.url)
    monkeypatch.setitem(app.config, "PUBLIC_URL", "http://beacon.test")
    monkeypatch.setitem(app.extensions, "beacon_redis", fakeredis.FakeRedis(server=fakeredis.FakeServer()))
    set_job_app(app)

    def work():
        db.session.remove()
        run_queued_jobs(app)
        db.session.remove()

    yield work
    set_job_app(None)


@pytest.fixture
def people(factory):
    ann = factory.user("Ann", email="ann@example.test")
    bob = factory.user("Bob", email="bob@example.test")
    project = factory.project(ann)
    factory.member(project, bob)
    return ann, bob, project


def choose(user, choice):
    row = db.session.get(User, user.id)
    row.email_notifications = choice
    db.session.commit()


def test_instant_mails_each_notification_once_with_a_one_click_unsubscribe(client, factory, people, mailing, smtp):
    ann, bob, project = people
    choose(bob, "instant")
    issue = factory.issue(project, ann, title="Broken login", assignee_id=bob.id)
    mailing()
    [message] = smtp.to("bob@example.test")
    assert message["Subject"] == f"[WEB-{issue.number}] Broken login"
    assert f"Ann assigned you to WEB-{issue.number}: Broken login" in message.get_content()
    assert f"http://beacon.test/issues/WEB-{issue.number}" in message.get_content()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = message["List-Unsubscribe"].strip().strip("<>")
    assert link.startswith("http://beacon.test/unsubscribe/")
    assert db.session.query(Notification).filter(Notification.mailed_at.is_(None)).count() == 0
    mailing()
    assert len(smtp.to("bob@example.test")) == 1  # mailed once
    assert smtp.to("ann@example.test") == []  # the actor

    path = link.removeprefix("http://beacon.test")
    assert client.get(path).status_code == 200  # a page that asks: a link scanner unsubscribes no one
    db.session.remove()
    assert db.session.get(User, bob.id).email_notifications == "instant"
    assert client.post(path).status_code == 200  # no sign-in
    db.session.remove()
    assert db.session.get(User, bob.id).email_notifications == "off"


def test_an_unsubscribe_link_cannot_be_forged_or_turned_to_another_user(client, people, mailing):
    from app.notifications.unsubscribe import unsubscribe_url

    ann, bob, _project = people
    token = unsubscribe_url(bob.id).rsplit("/", 1)[1]
    payload, signature = token.rsplit(".", 1)
    other = unsubscribe_url(ann.id).rsplit("/", 1)[1].rsplit(".", 1)[0]
    for forged in (f"{other}.{signature}", f"{payload}.{signature[:-2]}xx", "garbage", f"{payload}"):
        assert client.post(f"/unsubscribe/{forged}").status_code == 404
    db.session.remove()
    assert {db.session.get(User, u.id).email_notifications for u in (ann, bob)} == {"digest"}


def test_the_digest_is_a_scheduled_job_mailing_unread_unmailed_ones_in_one_message(app, client, factory, people,
                                                                                  mailing, smtp):
    from app.notifications.emails import send_digests
    from app.worker import enqueue_job

    [schedule] = [s for s in app.extensions["beacon_schedule"] if s["name"] == "send_digests"]
    assert (schedule["func"], schedule["interval"]) == (send_digests, 15 * 60)
    ann, bob, project = people
    issues = [factory.issue(project, ann, title=f"Task {i}", assignee_id=bob.id) for i in range(3)]
    read = db.session.query(Notification).filter_by(issue_id=issues[0].id).one()
    client.post("/api/v1/notifications/read", headers=factory.headers(bob), json={"ids": [read.id]})
    mailing()  # digest users get nothing instant
    assert smtp.to("bob@example.test") == []
    enqueue_job(send_digests, job_type="notifications.digest")
    mailing()
    [message] = smtp.to("bob@example.test")
    assert message["Subject"] == "2 new notifications in Beacon"
    body = message.get_content()
    assert "Task 1" in body and "Task 2" in body and "Task 0" not in body
    assert message["List-Unsubscribe"].strip().startswith("<http://beacon.test/unsubscribe/")
    enqueue_job(send_digests, job_type="notifications.digest")
    mailing()
    assert len(smtp.to("bob@example.test")) == 1  # nothing mailed twice


@pytest.mark.parametrize("choice, active", [("off", True), ("instant", False), ("digest", False)])
def test_nothing_is_mailed_to_deactivated_users_or_those_who_chose_off(factory, people, mailing, smtp, choice,
                                                                       active):
    from app.notifications.emails import send_digests
    from app.worker import enqueue_job

    ann, bob, project = people
    choose(bob, choice)
    factory.issue(project, ann, assignee_id=bob.id)
    row = db.session.get(User, bob.id)
    row.active = active
    db.session.commit()
    enqueue_job(send_digests, job_type="notifications.digest")
    mailing()
    assert smtp.to("bob@example.test") == []


def test_a_failed_send_leaves_the_notifications_for_the_next_run(factory, people, mailing, smtp, monkeypatch, app):
    from app.notifications.emails import send_digests
    from app.worker import enqueue_job

    ann, bob, project = people
    factory.issue(project, ann, assignee_id=bob.id)
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{free_port()}")  # nothing listens
    enqueue_job(send_digests, job_type="notifications.digest")
    mailing()
    assert db.session.query(Notification).filter(Notification.mailed_at.is_(None)).count() == 1
    monkeypatch.setitem(app.config, "SMTP_URL", smtp.url)
    enqueue_job(send_digests, job_type="notifications.digest")
    mailing()
    assert len(smtp.to("bob@example.test")) == 1


def test_nothing_is_mailed_about_a_project_the_user_left(client, factory, people, mailing, smtp):
    from app.notifications.emails import send_digests
    from app.worker import enqueue_job

    ann, bob, project = people
    factory.issue(project, ann, assignee_id=bob.id)
    assert client.delete(f"/api/v1/projects/WEB/members/{bob.id}", headers=factory.headers(ann)).status_code == 204
    enqueue_job(send_digests, job_type="notifications.digest")
    mailing()
    assert smtp.to("bob@example.test") == []
