"""Notifications in Chromium against a real server: the bell's live unread count on every
page, the inbox page with mark read, the issue page's watch toggle and ``@`` autocomplete."""
import time

import pytest
import requests
from playwright.sync_api import expect

from tests.support.browser import browser, pages, screenshot, team, web_server  # noqa: F401

pytestmark = pytest.mark.backends("production")  # real server and browser: once, on the production database


def call(web_server, team, who, method, path, **kwargs):
    response = requests.request(method, f"{web_server.url}/api/v1{path}", timeout=10,
                                headers={"Authorization": f"Bearer {team['tokens'][who]}"}, **kwargs)
    assert response.ok, response.text
    return response.json() if response.content else None


def signed_in(pages, team, who):
    return pages.new(team[who], team["tokens"][who])


@pytest.mark.parametrize("path", ["/", "/batches", "/analytics"])
def test_the_bell_counts_unread_live_on_every_page(pages, team, web_server, path):
    bob = signed_in(pages, team, "bob")
    bob.goto(path)
    bell = bob.locator("#bell-count")
    expect(bob.locator("#bell")).to_be_visible()
    expect(bell).to_be_hidden()
    call(web_server, team, "ada", "POST", "/projects/WEB/issues", json={"title": "Yours", "assignee_id": team["bob"].id})
    started = time.monotonic()
    expect(bell).to_have_text("1", timeout=2000)
    assert time.monotonic() - started < 2.0
    expect(bob.locator("#bell")).to_have_attribute("aria-label", "Inbox, 1 unread")


def test_the_inbox_lists_live_and_marks_read(pages, team, web_server):
    issue = call(web_server, team, "ada", "POST", "/projects/WEB/issues",
                 json={"title": "Cart", "assignee_id": team["bob"].id})
    bob = signed_in(pages, team, "bob")
    bob.goto("/inbox")
    items = bob.locator("#inbox > li")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text(f"Ada Lovelace assigned you to {issue['key']}")
    expect(items.first).to_have_class("unread")
    expect(bob.locator("#bell-count")).to_have_text("1")
    call(web_server, team, "carl", "POST", f"/issues/{issue['id']}/comments", json={"body": "Seen it"})
    expect(items).to_have_count(2, timeout=2000)  # live, at the top
    expect(items.first).to_contain_text(f"Carl Member commented on {issue['key']}")
    expect(bob.locator("#bell-count")).to_have_text("2")
    items.nth(1).get_by_role("button", name="Mark read").click()
    expect(items.nth(1)).to_have_class("read")
    expect(bob.locator("#bell-count")).to_have_text("1")
    bob.get_by_role("button", name="Mark all read").click()
    expect(bob.locator("#bell-count")).to_be_hidden()
    assert call(web_server, team, "bob", "GET", "/notifications/unread-count") == {"count": 0}
    bob.get_by_label("Unread only").check()
    expect(items).to_have_count(0)
    expect(bob.locator("#inbox-empty")).to_be_visible()
    screenshot(bob, "inbox")


def test_the_issue_page_watches_and_unwatches(pages, team, web_server):
    issue = call(web_server, team, "ada", "POST", "/projects/WEB/issues", json={"title": "Watch me"})
    carl = signed_in(pages, team, "carl")
    carl.goto(f"/issues/{issue['key']}")
    button = carl.locator("#watch")
    expect(button).to_have_text("Watch")
    expect(button).to_have_attribute("aria-pressed", "false")
    button.click()
    expect(button).to_have_text("Unwatch")
    expect(button).to_have_attribute("aria-pressed", "true")
    assert call(web_server, team, "carl", "GET", f"/issues/{issue['id']}")["watching"] is True
    carl.reload()
    expect(button).to_have_text("Unwatch")
    button.click()
    expect(button).to_have_text("Watch")
    assert call(web_server, team, "carl", "GET", f"/issues/{issue['id']}")["watching"] is False


def test_at_autocompletes_the_project_s_members_and_the_mention_notifies(pages, team, web_server, factory):
    factory.user("Bobby Outsider")  # not a member: never offered
    issue = call(web_server, team, "ada", "POST", "/projects/WEB/issues", json={"title": "Ping"})
    ada = signed_in(pages, team, "ada")
    ada.goto(f"/issues/{issue['key']}")
    expect(ada.locator("#timeline[data-loaded=true]")).to_be_attached()
    box = ada.get_by_label("Add a comment")
    box.click()
    box.press_sequentially("Please look @Bo")
    options = ada.locator("#comment-body-mentions").get_by_role("option")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text(f"@{team['bob'].handle}")
    expect(options.first).to_contain_text("Bob Stone")
    box.press("Enter")
    expect(box).to_have_value(f"Please look @{team['bob'].handle} ")
    expect(options).to_have_count(0)
    ada.get_by_role("button", name="Comment").click()
    expect(ada.locator("#timeline > li")).to_have_count(1)  # the comment's event may beat its fan-out
    deadline = time.monotonic() + 2
    while not (notes := call(web_server, team, "bob", "GET", "/notifications")["items"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [n["type"] for n in notes] == ["mentioned"]
