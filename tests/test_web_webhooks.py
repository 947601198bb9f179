"""The webhooks page in Chromium, against a real server with its embedded worker: a
maintainer adds a webhook (its secret shown once), pings it, reads the delivery log and
redelivers."""
import pytest
from playwright.sync_api import expect

from tests.support.browser import browser, pages, web_server  # noqa: F401
from tests.support.receiver import Receiver

pytestmark = pytest.mark.backends("production")


def server_env(folder):
    return {"EMBEDDED_WORKER": "1", "WEBHOOK_ALLOW_PRIVATE": "1", "BACKUP_SCHEDULE": "off"}


def test_a_maintainer_adds_a_webhook_pings_it_and_redelivers(pages, factory, web_server):
    receiver = Receiver()
    try:
        owner = factory.user("Ada Lovelace")
        factory.project(owner, "WEB", "Website")
        page = pages.new(owner, factory.token(owner))
        page.goto("/projects/WEB/webhooks")
        page.get_by_label("Payload URL").fill(receiver.url)
        page.get_by_label("Events (comma separated; empty: every event)").fill("issue.*")
        page.get_by_role("button", name="Add webhook").click()
        expect(page.locator("#secret")).to_contain_text("whsec_")
        expect(page.get_by_role("cell", name="issue.*")).to_be_visible()
        page.get_by_role("button", name="Ping").click()
        receiver.wait_for(1, timeout=15)
        page.get_by_role("button", name="Deliveries").click()
        expect(page.get_by_role("cell", name="succeeded")).to_be_visible(timeout=10_000)
        page.get_by_role("button", name="#1", exact=True).click()
        expect(page.locator("#delivery-detail")).to_contain_text("webhook-signature")
        page.get_by_role("button", name="Redeliver #1").click()
        first, second = receiver.wait_for(2, timeout=15)
        assert first[0]["webhook-id"] == second[0]["webhook-id"] == "1"
    finally:
        receiver.close()


def test_a_member_is_told_the_page_is_not_theirs(pages, factory, web_server):
    owner = factory.user("Ada Lovelace")
    project = factory.project(owner, "WEB", "Website")
    member = factory.member(project, factory.user("Bob Member"), "member")
    page = pages.new(member, factory.token(member))
    pages.expect_error("403")
    page.goto("/projects/WEB/webhooks")
    expect(page.locator("#flash")).to_contain_text("maintainer")
