"""The issue page (`/issues/KEY-N`) in Chromium against a real server: Markdown that runs
nothing of its author's, one live timeline of changes and comments, and comments edited
and deleted in place by their authors (and maintainers)."""
import re
import time

import pytest
import requests
from playwright.sync_api import expect

from tests.support.browser import browser, pages, screenshot, team, web_server  # noqa: F401

pytestmark = pytest.mark.backends("production")  # real server and browser: once, on the production database

DESCRIPTION = """## Steps

1. Open the cart
2. Add **two** coupons

- [x] seen on Safari
- [ ] seen on Firefox

```js
const total = cart.sum();
```

See [the spec](https://example.com/spec) and <b onmouseover="window.pwned = 'b'">this</b>."""

HOSTILE = """<img src=x onerror="window.pwned = 'img'; alert(1)"> and <script>window.pwned = 'script'</script>

[click me](javascript:window.pwned='link') · <a href="javascript:alert(1)">raw link</a> · ![x](javascript:alert(1))"""


def signed_in(pages, team, who):
    page = pages.new(team[who], team["tokens"][who])
    page.on("dialog", lambda dialog: pages.errors.append(f"a dialog opened: {dialog.message}"))
    return page


def call(web_server, team, who, method, path, **kwargs):
    response = requests.request(method, f"{web_server.url}/api/v1{path}", timeout=10,
                                headers={"Authorization": f"Bearer {team['tokens'][who]}"}, **kwargs)
    assert response.ok, response.text
    return response.json() if response.content else None


def open_issue(page, key="WEB-1"):
    page.goto(f"/issues/{key}")
    expect(page.locator("#timeline[data-loaded=true]")).to_be_attached()


def test_markdown_renders_and_nothing_of_the_author_runs(pages, team, factory, web_server):
    issue = factory.issue(team["web"], team["ada"], title="Coupons", description=DESCRIPTION)
    factory.comment(issue, team["bob"], HOSTILE)
    page = signed_in(pages, team, "carl")
    open_issue(page)
    description = page.locator("#description")
    expect(description.get_by_role("heading", name="Steps", level=4)).to_be_visible()  # below the page's h1 and h2
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    expect(description.locator("ol li")).to_have_text(["Open the cart", "Add two coupons"])
    expect(description.locator("strong")).to_have_text("two")
    boxes = description.get_by_role("checkbox")
    expect(boxes).to_have_count(2)
    expect(boxes.first).to_be_checked()
    expect(boxes.first).to_be_disabled()
    expect(description.locator("pre code.language-js")).to_have_text("const total = cart.sum();")
    spec = description.get_by_role("link", name="the spec")
    expect(spec).to_have_attribute("href", "https://example.com/spec")
    expect(spec).to_have_attribute("rel", "noopener noreferrer")
    expect(description).to_contain_text('<b onmouseover="window.pwned = \'b\'">this</b>')  # raw HTML shows as text
    expect(description.locator("b")).to_have_count(0)

    body = page.locator("#timeline .comment .body")
    expect(body).to_contain_text('<img src=x onerror="window.pwned = \'img\'; alert(1)">')
    expect(body).to_contain_text("<script>window.pwned = 'script'</script>")
    expect(body.locator("script, iframe, [onerror], [onmouseover]")).to_have_count(0)
    expect(body.locator("img")).to_have_count(1)  # the Markdown image, without its javascript: source
    assert body.locator("img").get_attribute("src") is None
    link = body.locator("a", has_text="click me")
    expect(link).to_be_visible()
    assert link.get_attribute("href") is None  # the javascript: URL is gone: no link to follow
    link.click()
    for anchor in body.locator("a").all():
        assert anchor.get_attribute("rel") == "noopener noreferrer"
        assert not (anchor.get_attribute("href") or "").lower().startswith("javascript:")
    page.wait_for_timeout(300)
    assert page.evaluate("window.pwned") is None  # no handler, script or link of the author ran
    screenshot(page, "issue-markdown")

    # A comment typed in the page is rendered the same way, and runs nothing either.
    page.get_by_label("Add a comment").fill("<img src=x onerror=alert(1)> [x](javascript:alert(1)) `ok`")
    page.get_by_role("button", name="Comment", exact=True).click()
    expect(body).to_have_count(2)
    expect(body.nth(1).locator("code")).to_have_text("ok")
    expect(body.nth(1).locator("img")).to_have_count(0)
    page.wait_for_timeout(300)
    assert page.evaluate("window.pwned") is None


def test_the_timeline_shows_another_users_change_within_2_s(pages, team, factory, web_server):
    issue = factory.issue(team["web"], team["ada"], title="Cart total wrong", labels=["ui"])
    factory.comment(issue, team["ada"], "First look: the coupons")
    ada, bob = signed_in(pages, team, "ada"), signed_in(pages, team, "bob")
    open_issue(ada)
    open_issue(bob)
    timeline = ada.locator("#timeline > li")
    expect(timeline).to_have_count(1)

    bob.get_by_label("Status").select_option("resolved")  # Bob's page saves it at once
    started = time.monotonic()
    change = ada.locator("#timeline .change").filter(has_text="Bob Stone changed the status from Open to Resolved")
    expect(change).to_be_visible(timeout=2000)
    assert time.monotonic() - started < 2.0
    expect(ada.get_by_label("Status")).to_have_value("resolved")

    call(web_server, team, "bob", "PATCH", f"/issues/{issue.id}",
         json={"assignee_id": team["carl"].id, "priority": "high", "labels": ["ui", "cart"], "title": "Cart total wrong with coupons"})
    call(web_server, team, "carl", "POST", f"/issues/{issue.id}/comments", json={"body": "Fixed in **#12**"})
    expect(timeline).to_have_text([
        re.compile(r"^AL\s*Ada Lovelace commented · just now.*First look: the coupons"),
        re.compile("Bob Stone changed the status from Open to Resolved · just now"),
        re.compile("Bob Stone renamed this issue from “Cart total wrong” to “Cart total wrong with coupons”, "
                   "changed the priority from Medium to High, assigned Carl Member, added the label cart"),
        re.compile("Carl Member commented · just now.*Fixed in #12"),
    ], timeout=2000)
    expect(ada.get_by_role("heading", level=1)).to_have_text("WEB-1 · Cart total wrong with coupons")
    expect(ada.get_by_label("Assignee")).to_have_value(str(team["carl"].id))

    ada.reload()  # the same story from the history endpoint and the comments
    expect(ada.locator("#timeline[data-loaded=true]")).to_be_attached()
    expect(timeline).to_have_count(4)
    expect(timeline.nth(2)).to_contain_text("assigned Carl Member")
    screenshot(ada, "issue-timeline")


def test_comments_are_edited_and_deleted_in_place_by_their_authors(pages, team, factory, web_server):
    issue = factory.issue(team["web"], team["ada"], title="Cart total wrong")
    factory.comment(issue, team["bob"], "Repro: one coupon")
    bob, ada, carl = signed_in(pages, team, "bob"), signed_in(pages, team, "ada"), signed_in(pages, team, "carl")
    for page in (bob, ada, carl):
        open_issue(page)
    comment = lambda page: page.locator("#timeline .comment")  # noqa: E731
    expect(comment(carl).get_by_role("button", name="Edit")).to_have_count(0)  # not his comment
    expect(comment(carl).get_by_role("button", name="Delete")).to_have_count(0)
    expect(comment(ada).get_by_role("button", name="Edit")).to_be_visible()  # a maintainer may

    comment(bob).get_by_role("button", name="Edit").click()
    bob.get_by_label("Edit comment").fill("Repro: **two** coupons")
    bob.get_by_role("button", name="Save comment").click()
    for page in (bob, ada, carl):
        expect(comment(page).locator(".body")).to_have_text("Repro: two coupons", timeout=2000)
        expect(comment(page)).to_contain_text("· edited")
    expect(comment(carl).locator(".body strong")).to_have_text("two")

    # Ada edits it too while Bob changes it again: her save is refused, his version shows, hers waits.
    comment(ada).get_by_role("button", name="Edit").click()
    ada.get_by_label("Edit comment").fill("Repro: two coupons, any order")
    pages.expect_error(r"status of 412")
    comment(bob).get_by_role("button", name="Edit").click()
    bob.get_by_label("Edit comment").fill("Repro: two coupons on Safari")
    bob.get_by_role("button", name="Save comment").click()
    expect(comment(ada).locator(".body")).to_have_text("Repro: two coupons on Safari", timeout=2000)
    expect(ada.get_by_label("Edit comment")).to_have_value("Repro: two coupons, any order")
    ada.get_by_role("button", name="Save comment").click()
    expect(comment(ada).get_by_role("alert")).to_contain_text("Someone edited this comment first")
    ada.get_by_role("button", name="Save comment").click()  # deliberately, over his
    expect(comment(bob).locator(".body")).to_have_text("Repro: two coupons, any order", timeout=2000)

    comment(bob).get_by_role("button", name="Delete").click()
    bob.get_by_role("button", name="Keep it").click()
    expect(comment(bob)).to_have_count(1)
    comment(bob).get_by_role("button", name="Delete").click()
    bob.get_by_role("button", name="Delete comment").click()
    for page in (bob, ada, carl):
        expect(comment(page)).to_have_count(0, timeout=2000)
    assert call(web_server, team, "ada", "GET", f"/issues/{issue.id}/comments")["items"] == []


def test_the_description_is_edited_in_place(pages, team, factory, web_server):
    issue = factory.issue(team["web"], team["ada"], title="Cart", description="Old words")
    page = signed_in(pages, team, "bob")
    open_issue(page)
    page.get_by_role("button", name="Edit", exact=True).click()
    page.get_by_label("Description (Markdown)").fill("New words with a [link](https://example.com)")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved (version 2).")).to_be_visible()
    expect(page.locator("#description")).to_have_text("New words with a link")
    expect(page.get_by_label("Description (Markdown)")).to_be_hidden()
    expect(page.locator("#timeline .change")).to_have_text(re.compile("Bob Stone edited the description"))
    assert call(web_server, team, "ada", "GET", f"/issues/{issue.id}")["description"].startswith("New words")
