"""Webhooks with real Redis and real `flask worker` processes: a worker SIGKILLed in the
middle of a send loses nothing; another worker sends the delivery again, under its id."""
import signal
import time

from standardwebhooks.webhooks import Webhook as StandardWebhook

from app.extensions import db
from app.models import WebhookDelivery
from tests.support.batches import start_worker  # noqa: F401
from tests.support.factory import Factory
from tests.support.receiver import Receiver

WORKER_ENV = {"WEBHOOK_ALLOW_PRIVATE": "1", "WEBHOOK_LEASE_SECONDS": "2", "WEBHOOK_DISPATCH_SECONDS": "1",
              "BACKUP_SCHEDULE": "off"}


def test_a_worker_killed_mid_delivery_loses_nothing(make_app, redis_url, start_worker):  # noqa: F811
    receiver = Receiver((200, {}, b"never answered", 60), (200, {}, b"ok", 0))
    app = make_app(REDIS_URL=redis_url, WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_LEASE_SECONDS=2)
    try:
        with app.app_context():
            client = app.test_client()
            factory = Factory(app, client)
            owner = factory.user()
            factory.project(owner)
            headers = factory.headers(owner)
            hook = client.post("/api/v1/projects/WEB/webhooks", json={"url": receiver.url}, headers=headers).json
            first = start_worker(**WORKER_ENV)
            assert client.post("/api/v1/projects/WEB/issues", json={"title": "Lost?"}, headers=headers).status_code == 201
            receiver.wait_for(1, timeout=30)  # the first worker is sending, and its receiver never answers
            first.kill(signal.SIGKILL)
            start_worker(**WORKER_ENV)
            (sent_headers, body, _), (again_headers, again_body, _) = receiver.wait_for(2, timeout=45)
            assert again_headers["webhook-id"] == sent_headers["webhook-id"] and again_body == body
            StandardWebhook(hook["secret"]).verify(again_body, again_headers)
            deadline = time.monotonic() + 20
            while True:
                db.session.expire_all()
                delivery = db.session.scalars(db.select(WebhookDelivery)).one()
                db.session.commit()
                if delivery.status == "succeeded" or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert delivery.status == "succeeded" and str(delivery.id) == sent_headers["webhook-id"]
            db.session.remove()
    finally:
        receiver.close()
