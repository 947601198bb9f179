"""The board (`/projects/KEY`) in Chromium, two users in two browser contexts, against a
real server on each database engine: moves by drag and drop and by keyboard, refused
moves, live updates reconciled by seq (gaps, `events.bulk`, `events.gap`, a dropped
socket), presence on cards, and the keyboard shortcuts. Every test also fails on any
console error or uncaught exception (``tests/support/browser.py``)."""
import re
import time

import pytest
import requests
from playwright.sync_api import expect

from tests.support.browser import SocketTap, browser, pages, screenshot, web_server  # noqa: F401


@pytest.fixture
def team(factory):
    """Ada and Bob, members of WEB ("Website"), and Vera, a viewer; each with a token."""
    ada, bob, vera = factory.user("Ada Lovelace"), factory.user("Bob Stone"), factory.user("Vera Viewer")
    web = factory.project(ada, "WEB", "Website")
    factory.member(web, bob, "member")
    factory.member(web, vera, "viewer")
    tokens = {name: factory.token(user) for name, user in (("ada", ada), ("bob", bob), ("vera", vera))}
    return {"ada": ada, "bob": bob, "vera": vera, "web": web, "tokens": tokens}


def signed_in(pages, team, who):
    return pages.new(team[who], team["tokens"][who])


def call(web_server, team, who, method, path, **kwargs):
    response = requests.request(method, f"{web_server.url}/api/v1{path}", timeout=10,
                                headers={"Authorization": f"Bearer {team['tokens'][who]}"}, **kwargs)
    assert response.ok, response.text
    return response.json() if response.content else None


def column(page, status):
    return page.locator(f'.column[data-status="{status}"] .card-link .title')


def card(page, key):
    return page.locator(".card-item").filter(has=page.get_by_role("link", name=re.compile(rf"^{key} ")))


def open_board(page):
    page.goto("/projects/WEB")
    expect(page.locator("#board[data-loaded=true]")).to_be_attached()
    expect(page.get_by_text("Live", exact=True)).to_be_visible()


def test_a_drag_in_one_browser_moves_the_card_in_the_other_within_2_s(pages, team, factory, web_server):
    web, ada = team["web"], team["ada"]
    login = factory.issue(web, ada, title="Login fails on Safari", priority="critical", labels=["auth"],
                          assignee_id=team["bob"].id)
    factory.comment(login, ada, "Seen on 17.2")
    factory.comment(login, ada, "And on 17.3")
    factory.issue(web, ada, title="Typo in footer", priority="low")
    ada_page, bob_page = signed_in(pages, team, "ada"), signed_in(pages, team, "bob")
    open_board(ada_page)
    open_board(bob_page)
    for page in (ada_page, bob_page):
        expect(column(page, "open")).to_have_text(["Typo in footer", "Login fails on Safari"])
    for name in ("Open", "In progress", "Resolved", "Closed"):
        expect(bob_page.get_by_role("heading", name=name, exact=True)).to_be_visible()
    login_card = card(bob_page, "WEB-1")
    expect(login_card).to_contain_text("Critical")
    expect(login_card).to_contain_text("auth")
    expect(login_card).to_contain_text("2 comments")
    expect(login_card.locator(".avatar.assignee")).to_have_text("BS assigned to Bob Stone")

    card(ada_page, "WEB-1").drag_to(ada_page.locator('.column[data-status="resolved"]'))
    expect(column(ada_page, "resolved")).to_have_text(["Login fails on Safari"])
    started = time.monotonic()
    expect(column(bob_page, "resolved")).to_have_text(["Login fails on Safari"], timeout=2000)
    assert time.monotonic() - started < 2.0
    expect(column(bob_page, "open")).to_have_text(["Typo in footer"])
    expect(bob_page.get_by_role("status").filter(has_text="Ada Lovelace moved WEB-1 to Resolved.")).to_be_attached()
    stored = call(web_server, team, "ada", "GET", f"/issues/{login.id}")
    assert (stored["status"], stored["version"]) == ("resolved", 2)

    # Another tab's creations, edits, comments and deletions arrive too.
    typo = call(web_server, team, "bob", "GET", "/issues/by-key/WEB-2")
    call(web_server, team, "bob", "POST", "/projects/WEB/issues", json={"title": "Cart total wrong"})
    call(web_server, team, "bob", "PATCH", f"/issues/{typo['id']}", json={"title": "Typo in the footer"})
    call(web_server, team, "bob", "POST", f"/issues/{login.id}/comments", json={"body": "Fixed by the new cookie"})
    expect(column(ada_page, "open")).to_have_text(["Cart total wrong", "Typo in the footer"], timeout=2000)
    expect(card(ada_page, "WEB-1")).to_contain_text("3 comments", timeout=2000)
    call(web_server, team, "ada", "DELETE", f"/issues/{typo['id']}")
    expect(column(bob_page, "open")).to_have_text(["Cart total wrong"], timeout=2000)
    screenshot(bob_page, "board")


def test_the_keyboard_moves_the_focused_card_and_says_so(pages, team, factory, web_server):
    issue = factory.issue(team["web"], team["ada"], title="Slow search")
    page, other = signed_in(pages, team, "ada"), signed_in(pages, team, "bob")
    open_board(page)
    open_board(other)
    page.keyboard.press("j")  # to the first card
    link = page.get_by_role("link", name="WEB-1 Slow search", exact=True)
    expect(link).to_be_focused()
    held = []
    page.route(re.compile(r"/api/v1/issues/\d+$"), lambda route: held.append(route))  # the PATCH waits for us
    page.keyboard.press("]")
    expect(column(page, "in_progress")).to_have_text(["Slow search"])  # at once, before the server has it
    expect(link).to_be_focused()  # the card keeps the focus in its new column
    assert call(web_server, team, "ada", "GET", f"/issues/{issue.id}")["status"] == "open" and len(held) == 1
    assert held[0].request.headers["if-match"] == '"1"'
    held[0].continue_()
    page.unroute(re.compile(r"/api/v1/issues/\d+$"))
    expect(page.get_by_role("status").filter(has_text="WEB-1 moved to In progress.")).to_be_attached()
    expect(column(other, "in_progress")).to_have_text(["Slow search"], timeout=2000)
    page.keyboard.press("]")
    page.keyboard.press("]")
    expect(column(page, "closed")).to_have_text(["Slow search"])
    expect(column(other, "closed")).to_have_text(["Slow search"], timeout=2000)
    page.keyboard.press("]")  # no column further right
    expect(page.get_by_role("status")).to_have_text("WEB-1 is already in the last column, Closed.")
    page.keyboard.press("[")
    expect(column(other, "resolved")).to_have_text(["Slow search"], timeout=2000)
    stored = call(web_server, team, "ada", "GET", f"/issues/{issue.id}")
    assert (stored["status"], stored["version"]) == ("resolved", 5)  # each move once, each with If-Match

    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("WEB-1 · Slow search")


def test_shortcuts_move_between_cards_create_search_and_list_themselves(pages, team, factory):
    for title in ("First", "Second", "Third"):
        factory.issue(team["web"], team["ada"], title=title)
    page = signed_in(pages, team, "bob")
    open_board(page)
    page.keyboard.press("j")
    expect(page.get_by_role("link", name="WEB-3 Third")).to_be_focused()
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(page.get_by_role("link", name="WEB-1 First")).to_be_focused()
    page.keyboard.press("k")
    expect(page.get_by_role("link", name="WEB-2 Second")).to_be_focused()
    page.keyboard.press("/")
    expect(page.get_by_label("Search")).to_be_focused()
    page.keyboard.type("seco")  # typing in a field is not a shortcut
    expect(column(page, "open")).to_have_text(["Second"])
    page.get_by_label("Search").blur()
    page.keyboard.press("?")
    shortcuts = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(shortcuts).to_be_visible()
    expect(shortcuts).to_contain_text("Move the focused card one column left / right")
    page.keyboard.press("Escape")
    expect(shortcuts).to_be_hidden()
    page.keyboard.press("c")
    expect(page.get_by_label("Title")).to_be_focused()
    page.keyboard.type("Made with c")
    page.keyboard.press("Enter")
    page.get_by_label("Search").fill("")
    expect(column(page, "open")).to_have_text(["Made with c", "Third", "Second", "First"])


def test_a_refused_move_goes_back_and_says_why(pages, team, factory, web_server):
    issue = factory.issue(team["web"], team["ada"], title="Cart total wrong")
    page = signed_in(pages, team, "ada")
    open_board(page)
    pages.expect_error(r"status of 412")

    def bob_changes_it_first(route):
        if route.request.method == "PATCH":
            call(web_server, team, "bob", "PATCH", f"/issues/{issue.id}", json={"status": "resolved", "priority": "high"})
        route.continue_()

    page.route(re.compile(r"/api/v1/issues/\d+$"), bob_changes_it_first)
    page.get_by_role("link", name="WEB-1 Cart total wrong").focus()
    page.keyboard.press("]")
    alert = page.locator("#board-error")
    expect(alert).to_contain_text("WEB-1 was not moved to In progress:")
    expect(alert).to_contain_text("changed it first (status Open → Resolved; priority Medium → High). It is in Resolved.")
    expect(column(page, "resolved")).to_have_text(["Cart total wrong"])  # their version, not hers
    expect(column(page, "in_progress")).to_have_count(0)
    expect(card(page, "WEB-1")).to_contain_text("High")
    screenshot(page, "board-refused-move")
    page.unroute(re.compile(r"/api/v1/issues/\d+$"))
    stored = call(web_server, team, "ada", "GET", f"/issues/{issue.id}")
    assert (stored["status"], stored["version"]) == ("resolved", 2)  # nothing of hers was written

    # A viewer may not move cards (403), and a move that never reaches the server goes back too.
    viewer = signed_in(pages, team, "vera")
    open_board(viewer)
    pages.expect_error(r"status of 403")
    card(viewer, "WEB-1").drag_to(viewer.locator('.column[data-status="closed"]'))
    expect(viewer.locator("#board-error")).to_contain_text(
        "WEB-1 was not moved to Closed: This needs the member role in project WEB. It is in Resolved.")
    expect(column(viewer, "resolved")).to_have_text(["Cart total wrong"])
    pages.expect_error(r"net::ERR_FAILED")
    page.get_by_role("link", name="WEB-1 Cart total wrong").focus()
    page.route(re.compile(r"/api/v1/issues/\d+$"), lambda route: route.abort())
    page.keyboard.press("[")
    expect(page.locator("#board-error")).to_contain_text("WEB-1 was not moved to In progress: Cannot reach Beacon")
    expect(column(page, "resolved")).to_have_text(["Cart total wrong"])
    assert call(web_server, team, "ada", "GET", f"/issues/{issue.id}")["version"] == 2


def test_a_dropped_socket_catches_up_without_a_reload(pages, team, factory, web_server):
    one = factory.issue(team["web"], team["ada"], title="Stays")
    two = factory.issue(team["web"], team["ada"], title="Goes")
    page = signed_in(pages, team, "ada")
    tap = SocketTap(page)
    open_board(page)
    page.evaluate("window.sameDocument = true")
    pages.expect_error(r"net::ERR_|WebSocket connection to .* failed")  # the retries while it is down
    tap.cut()
    expect(page.locator("#live-status")).to_have_text(re.compile("Live updates (reconnecting|offline)…"))
    call(web_server, team, "bob", "PATCH", f"/issues/{one.id}", json={"status": "closed"})
    call(web_server, team, "bob", "PATCH", f"/issues/{two.id}", json={"title": "Renamed"})
    call(web_server, team, "bob", "POST", "/projects/WEB/issues", json={"title": "Filed while Ada was cut off"})
    call(web_server, team, "ada", "DELETE", f"/issues/{two.id}")
    page.wait_for_timeout(300)
    expect(column(page, "open")).to_have_text(["Goes", "Stays"])  # nothing came meanwhile
    tap.restore()
    expect(page.get_by_text("Live", exact=True)).to_be_visible(timeout=10_000)
    expect(column(page, "open")).to_have_text(["Filed while Ada was cut off"])
    expect(column(page, "closed")).to_have_text(["Stays"])
    assert page.evaluate("window.sameDocument") is True  # caught up by re-joining, not by a reload


def test_a_gap_in_the_seqs_is_filled_from_the_change_feed(pages, team, factory, web_server):
    issue = factory.issue(team["web"], team["ada"], title="Its move is lost on the way")
    page = signed_in(pages, team, "ada")
    tap = SocketTap(page)
    open_board(page)
    tap.drop = lambda frame: '"issue.updated"' in frame  # the move's event never reaches the page
    call(web_server, team, "bob", "PATCH", f"/issues/{issue.id}", json={"status": "in_progress"})
    page.wait_for_timeout(300)
    expect(column(page, "open")).to_have_text(["Its move is lost on the way"])
    tap.drop = None
    with page.expect_request(re.compile(r"/api/v1/projects/WEB/events\?after_seq=2&")):
        call(web_server, team, "bob", "POST", "/projects/WEB/issues", json={"title": "Reveals the gap"})
    expect(column(page, "in_progress")).to_have_text(["Its move is lost on the way"], timeout=2000)
    expect(column(page, "open")).to_have_text(["Reveals the gap"])


def test_events_bulk_and_events_gap_from_the_server(pages, team, factory, web_server):
    """CONTRACT section 7: several events of a room may come as ``events.bulk``, and a socket
    that fell too far behind gets ``events.gap`` and re-joins from its ``after_seq``."""
    issues = [factory.issue(team["web"], team["ada"], title=f"Issue {n}") for n in range(3)]
    page = signed_in(pages, team, "ada")
    tap = SocketTap(page)
    open_board(page)
    seq = call(web_server, team, "ada", "GET", "/projects/WEB/events")["items"][-1]["seq"]
    tap.drop = lambda frame: '"issue.updated"' in frame
    for issue in issues:
        call(web_server, team, "bob", "PATCH", f"/issues/{issue.id}", json={"status": "resolved"})
    page.wait_for_timeout(300)
    expect(column(page, "resolved")).to_have_count(0)
    events = call(web_server, team, "ada", "GET", f"/projects/WEB/events?after_seq={seq}")["items"]
    tap.send("events.bulk", {"room": "project:WEB", "events": events[:2]})
    expect(column(page, "resolved")).to_have_text(["Issue 1", "Issue 0"])
    tap.send("events.bulk", {"room": "project:WEB", "events": events[:2]})  # again: changes nothing
    tap.drop = None
    tap.send("events.gap", {"room": "project:WEB", "after_seq": events[1]["seq"]})
    expect(column(page, "resolved")).to_have_text(["Issue 2", "Issue 1", "Issue 0"], timeout=2000)  # replayed
    expect(page.get_by_text("Live", exact=True)).to_be_visible()
    call(web_server, team, "bob", "PATCH", f"/issues/{issues[0].id}", json={"status": "closed"})
    expect(column(page, "closed")).to_have_text(["Issue 0"], timeout=2000)  # still live after the re-join


def test_the_board_shows_who_is_on_which_card(pages, team, factory):
    factory.issue(team["web"], team["ada"], title="Watched")
    factory.issue(team["web"], team["ada"], title="Quiet")
    board, bob = signed_in(pages, team, "ada"), signed_in(pages, team, "bob")
    open_board(board)
    bob.goto("/issues/WEB-1")
    watched = card(board, "WEB-1").locator(".avatar.viewer")
    expect(watched).to_have_text("BS Bob Stone is viewing this issue", timeout=2000)
    expect(card(board, "WEB-2").locator(".avatar.viewer")).to_have_count(0)
    bob.get_by_role("button", name="Edit", exact=True).click()
    expect(watched).to_have_text("BS Bob Stone is editing this issue", timeout=2000)
    bob.goto("/issues/WEB-2")
    expect(watched).to_have_count(0, timeout=2000)
    expect(card(board, "WEB-2").locator(".avatar.viewer")).to_have_text("BS Bob Stone is viewing this issue")
    screenshot(board, "board-presence")
