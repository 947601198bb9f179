"""The browser pages in Debian's Chromium (Playwright), against a real server process.

Two browser contexts are two users. Every test also fails on any console error or
uncaught exception in any page it opened (see ``tests/support/browser.py``).
"""
import re
import time

import pytest
import requests
from playwright.sync_api import expect

from tests.support.browser import browser, pages, screenshot, web_server  # noqa: F401
from tests.support.factory import PASSWORD

pytestmark = pytest.mark.backends("production")  # real server and browser: once, on the production database


@pytest.fixture
def team(factory):
    """Ada and Bob, members of WEB ("Website"), each with a token."""
    ada, bob = factory.user("Ada Lovelace"), factory.user("Bob Stone")
    web = factory.project(ada, "WEB", "Website")
    factory.member(web, bob, "member")
    return {"ada": ada, "bob": bob, "web": web, "tokens": {"ada": factory.token(ada), "bob": factory.token(bob)}}


def signed_in(pages, team, who):
    return pages.new(team[who], team["tokens"][who])


def test_sign_in_wrong_password_then_projects_then_sign_out(pages, team, web_server):
    pages.expect_error(r"status of 401")  # the browser logs the wrong password's 401 response
    page = pages.new()
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in to Beacon")).to_be_visible()
    page.get_by_label("Email").fill(team["ada"].email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert").filter(has_text="Wrong email or password")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('beacon.token')") is None
    screenshot(page, "signin-wrong-password")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")  # by keyboard
    expect(page.get_by_role("link", name="Website")).to_be_visible()
    token = page.evaluate("sessionStorage.getItem('beacon.token')")
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{web_server.url}/api/v1/projects", headers=headers).status_code == 200
    screenshot(page, "projects")
    page.get_by_role("link", name="Website").click()
    expect(page).to_have_url(f"{web_server.url}/projects/WEB")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('beacon.token')") is None
    assert requests.get(f"{web_server.url}/api/v1/projects", headers=headers).status_code == 401  # revoked


def test_board_is_live_with_avatars_and_typing(pages, team):
    ada, bob = signed_in(pages, team, "ada"), signed_in(pages, team, "bob")
    bob.goto("/projects/WEB")
    expect(bob.get_by_text("Live", exact=True)).to_be_visible()
    ada.goto("/projects/WEB")
    expect(bob.get_by_role("listitem", name="Ada Lovelace")).to_be_visible()  # Ada's avatar on Bob's board
    expect(ada.get_by_role("listitem", name="Bob Stone")).to_be_visible()

    ada.get_by_label("Title").press_sequentially("Checkout button is ")
    expect(bob.get_by_text("Ada Lovelace is typing…")).to_be_visible()
    ada.get_by_label("Title").press_sequentially("grey")
    ada.get_by_role("form", name="New issue").get_by_label("Priority").select_option("high")
    with ada.expect_response(lambda r: r.url.endswith("/api/v1/projects/WEB/issues") and r.request.method == "POST") as created:
        ada.get_by_role("button", name="Create issue").click()
    assert created.value.status == 201
    started = time.monotonic()
    expect(bob.get_by_role("link", name="Checkout button is grey")).to_be_visible(timeout=1000)
    assert time.monotonic() - started < 1.0
    expect(bob.get_by_text("Ada Lovelace is typing…")).to_be_hidden()  # she stopped when she submitted
    screenshot(bob, "board-live")

    ada.close(run_before_unload=True)  # Ada closes her tab (unload handlers run, as in a real tab): her avatar goes
    expect(bob.get_by_role("listitem", name="Ada Lovelace")).to_be_hidden()


def test_board_filters_sort_and_search(pages, team, factory):
    """The filters apply to the board's columns and, with ?view=list, to the table; both keep them in the URL."""
    web, ada, bob = team["web"], team["ada"], team["bob"]
    factory.issue(web, ada, title="Login fails on Safari", priority="critical", labels=["auth"])
    factory.issue(web, ada, title="Typo in footer", priority="low", status="resolved")
    factory.issue(web, ada, title="Slow search", priority="high", assignee_id=bob.id)
    page = signed_in(pages, team, "bob")
    page.goto("/projects/WEB")
    opened = page.locator('.column[data-status="open"] .card-link .title')
    resolved = page.locator('.column[data-status="resolved"] .card-link .title')
    expect(opened).to_have_text(["Slow search", "Login fails on Safari"])  # newest first
    expect(resolved).to_have_text(["Typo in footer"])

    page.get_by_label("Sort").select_option("-priority")
    expect(opened).to_have_text(["Login fails on Safari", "Slow search"])
    page.get_by_label("Status").select_option("resolved")
    expect(resolved).to_have_text(["Typo in footer"])
    expect(opened).to_have_count(0)
    expect(page.locator('.column[data-status="open"] .count')).to_have_text("filtered out")
    page.get_by_label("Status").select_option("")
    page.get_by_label("Assignee").select_option(label="Bob Stone")
    expect(opened).to_have_text(["Slow search"])
    expect(resolved).to_have_count(0)
    page.get_by_label("Assignee").select_option("")
    page.get_by_label("Label", exact=True).fill("auth")
    expect(opened).to_have_text(["Login fails on Safari"])
    page.get_by_label("Label", exact=True).fill("")
    page.get_by_label("Search").fill("safari")
    expect(page).to_have_url(re.compile(r"/projects/WEB\?q=safari&sort=-priority$"))  # the view can be shared
    expect(opened).to_have_text(["Login fails on Safari"])
    page.reload()
    expect(opened).to_have_text(["Login fails on Safari"])
    expect(page.get_by_label("Search")).to_have_value("safari")

    page.get_by_role("link", name="List", exact=True).click()  # the same filters, as a table
    expect(page).to_have_url(re.compile(r"/projects/WEB\?q=safari&sort=-priority&view=list$"))
    rows = page.locator("#issue-rows tr td:nth-child(2)")
    expect(rows).to_have_text(["Login fails on Safari"])
    page.get_by_label("Search").fill("")
    expect(rows).to_have_text(["Login fails on Safari", "Slow search", "Typo in footer"])
    page.get_by_label("Status").select_option("resolved")
    expect(rows).to_have_text(["Typo in footer"])
    page.reload()
    expect(rows).to_have_text(["Typo in footer"])
    expect(page.get_by_label("Status")).to_have_value("resolved")
    expect(page.locator("#board")).to_be_hidden()


def test_issue_stale_save_shows_the_conflict_and_comments_arrive_live(pages, team, factory, web_server):
    issue = factory.issue(team["web"], team["ada"], title="Cart total wrong")
    ada, bob = signed_in(pages, team, "ada"), signed_in(pages, team, "bob")
    ada.goto("/issues/WEB-1")
    bob.goto("/issues/WEB-1")
    expect(ada.get_by_role("heading", level=1)).to_have_text("WEB-1 · Cart total wrong")
    expect(bob.get_by_role("listitem", name="Ada Lovelace")).to_be_visible()

    bob.get_by_role("button", name="Edit", exact=True).click()  # the title and description are edited in place
    bob.get_by_label("Title").fill("Cart total wrong with coupons")  # Bob starts editing version 1
    expect(ada.get_by_text("Bob Stone is editing")).to_be_visible()
    ada.get_by_label("Status").select_option("resolved")  # a field at the side saves as it changes
    expect(ada.get_by_text("Saved (version 2).")).to_be_visible()
    expect(bob.get_by_text("Ada Lovelace changed status (version 2) while you were editing.")).to_be_visible()

    pages.expect_error(r"status of 412")  # the stale PATCH's response
    bob.get_by_role("button", name="Save", exact=True).click()
    conflict = bob.get_by_role("alert").filter(has_text="Someone else changed this issue")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("Ada Lovelace saved version 2 after you opened version 1. Your changes were not saved.")
    expect(conflict.get_by_role("row", name="status resolved (not changed by you)")).to_be_visible()
    expect(conflict.get_by_role("row", name="title Cart total wrong Cart total wrong with coupons")).to_be_visible()
    screenshot(bob, "issue-conflict")
    stored = requests.get(f"{web_server.url}/api/v1/issues/{issue.id}",
                          headers={"Authorization": f"Bearer {team['tokens']['ada']}"}).json()
    assert (stored["title"], stored["status"], stored["version"]) == ("Cart total wrong", "resolved", 2)

    bob.get_by_role("button", name="Save my changes on top of theirs").click()
    expect(bob.get_by_text("Saved (version 3).")).to_be_visible()
    stored = requests.get(f"{web_server.url}/api/v1/issues/{issue.id}",
                          headers={"Authorization": f"Bearer {team['tokens']['ada']}"}).json()
    assert (stored["title"], stored["status"]) == ("Cart total wrong with coupons", "resolved")
    expect(ada.get_by_role("heading", level=1)).to_have_text("WEB-1 · Cart total wrong with coupons")  # live

    bob.get_by_label("Add a comment").press_sequentially("Repro: two coupons")
    expect(ada.get_by_text("Bob Stone is typing…")).to_be_visible()
    bob.get_by_role("button", name="Comment", exact=True).click()
    expect(ada.locator("#timeline .comment .body")).to_have_text(["Repro: two coupons"], timeout=1000)
    expect(bob.locator("#timeline .comment .body")).to_have_text(["Repro: two coupons"])  # once, not twice


def test_edited_and_deleted_comments_follow_live_and_after_a_reload(pages, team, factory, web_server):
    issue = factory.issue(team["web"], team["ada"], title="Cart total wrong")
    api = f"{web_server.url}/api/v1"
    bob = {"Authorization": f"Bearer {team['tokens']['bob']}"}
    ada = signed_in(pages, team, "ada")
    ada.goto("/issues/WEB-1")
    expect(ada.get_by_role("heading", level=1)).to_have_text("WEB-1 · Cart total wrong")
    comments = ada.locator("#timeline .comment .body")
    typo = requests.post(f"{api}/issues/{issue.id}/comments", json={"body": "the code is 1234"}, headers=bob).json()
    requests.post(f"{api}/issues/{issue.id}/comments", json={"body": "Second"}, headers=bob)
    expect(comments).to_have_text(["the code is 1234", "Second"])
    requests.patch(f"{api}/comments/{typo['id']}", json={"body": "the code is ****"}, headers=bob)
    expect(comments).to_have_text(["the code is ****", "Second"])  # the edit arrives live
    ada.reload()  # the page loads the comments afresh
    expect(comments).to_have_text(["the code is ****", "Second"])
    requests.delete(f"{api}/comments/{typo['id']}", headers=bob)
    expect(comments).to_have_text(["Second"])


def test_analytics_draws_its_charts_from_the_api(pages, team, factory, web_server):
    from app.issues.service import update_issue

    web, ada = team["web"], team["ada"]
    for n in range(5):
        issue = factory.issue(web, ada, title=f"Issue {n}")
        if n < 2:
            update_issue(issue, ada, {"status": "resolved"})
    page = signed_in(pages, team, "ada")
    page.goto("/analytics")
    expect(page.locator("body[data-loaded=true]")).to_be_attached()
    for chart in ("chart-created", "chart-cycle", "chart-flow", "chart-bulk"):
        expect(page.locator(f"canvas#{chart}")).to_be_visible()
        assert page.evaluate(f"Chart.getChart('{chart}') !== undefined")
    drawn = page.evaluate("""() => {
        const data = (id, i) => Chart.getChart(id).data.datasets[i].data;
        const sum = (xs) => xs.reduce((a, b) => a + b, 0);
        const flow = Chart.getChart('chart-flow').data.datasets;
        return {created: sum(data('chart-created', 0)), resolved: sum(data('chart-created', 1)),
                cycle_bars: data('chart-cycle', 0).length,
                flow_today: Object.fromEntries(flow.map((d) => [d.label, d.data[d.data.length - 1]]))};
    }""")
    api = requests.get(f"{web_server.url}/api/v1/analytics/issues/created-vs-resolved?days=30",
                       headers={"Authorization": f"Bearer {team['tokens']['ada']}"}).json()
    assert drawn["created"] == sum(b["created"] for b in api["buckets"]) == 5
    assert drawn["resolved"] == 2 and drawn["cycle_bars"] == 5
    assert drawn["flow_today"] == {"open": 3, "in progress": 0, "resolved": 2, "closed": 0}
    expect(page.locator("#overview")).to_contain_text("Issues5")
    screenshot(page, "analytics")

    page.get_by_label("Interval").select_option("week")
    expect(page.locator("body[data-loaded=true]")).to_be_attached()
    assert page.evaluate("Chart.getChart('chart-created').data.labels.length") < 10


def test_pages_have_no_console_errors_and_admin_is_for_admins(pages, team, factory, web_server):
    factory.issue(team["web"], team["ada"], title="Something")
    page = signed_in(pages, team, "bob")
    for path, heading in [("/", "Projects"), ("/projects/WEB", "Website"), ("/issues/WEB-1", "WEB-1 · Something"),
                          ("/analytics", "Analytics")]:
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        page.wait_for_load_state("networkidle")
    expect(page.get_by_role("link", name="Admin")).to_be_hidden()  # Bob is no admin
    page.goto("/admin")
    expect(page.get_by_role("alert").filter(has_text="Admins only.")).to_be_visible()
    fresh = pages.new()
    fresh.goto("/projects/WEB")  # not signed in: sent to the sign-in form
    expect(fresh.get_by_role("button", name="Sign in")).to_be_visible()
    expect(fresh.get_by_role("navigation", name="Main")).to_be_hidden()
    expect(fresh).to_have_url(f"{web_server.url}/")


def test_keyboard_creates_an_issue(pages, team):
    page = signed_in(pages, team, "ada")
    page.goto("/projects/WEB")
    expect(page.get_by_text("Live", exact=True)).to_be_visible()
    page.get_by_label("Title").focus()
    page.keyboard.type("Made by keyboard")
    page.keyboard.press("Enter")  # submits the form
    expect(page.get_by_role("link", name="Made by keyboard")).to_be_visible()
    page.get_by_role("link", name="WEB-1 Made by keyboard", exact=True).focus()  # the card
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("WEB-1 · Made by keyboard")


def test_board_catches_up_after_its_server_restarts(pages, team, factory, database_url, tmp_path):
    """The socket reconnects by itself and re-joins after the last seq it saw."""
    from tests.conftest import INSTANCE
    from tests.support.live import Server

    env = {"DATABASE_URL": database_url, "BEACON_INSTANCE_PATH": INSTANCE, "EMBEDDED_WORKER": "0"}
    first = Server(env, tmp_path / "first.log")
    page = signed_in(pages, team, "bob")
    page.goto(f"{first.url}/projects/WEB")
    expect(page.get_by_role("listitem", name="Bob Stone")).to_be_visible()  # joined the room
    pages.expect_error(r"net::ERR_|WebSocket connection to .* failed")  # the retries while it is down
    first.kill()
    expect(page.get_by_text("Live updates reconnecting…")).to_be_visible()
    factory.issue(team["web"], team["ada"], title="Filed while Bob was cut off")
    second = Server(env, tmp_path / "second.log", port=first.port)
    try:
        expect(page.get_by_role("link", name="Filed while Bob was cut off")).to_be_visible(timeout=20_000)
        expect(page.get_by_text("Live", exact=True)).to_be_visible()
        expect(page.get_by_role("listitem", name="Bob Stone")).to_be_visible()  # present again
    finally:
        page.close()
        second.kill()
