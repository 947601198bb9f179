"""Attachments in Chromium against a real server (with its embedded worker, which makes
thumbnails): upload by the file picker with a progress bar, a thumbnail and a table
preview, an upload cut by a reload that resumes where it stopped, an uploaded HTML or
SVG file opened by its URL running nothing, and attachment counts on board cards."""
import re
import time

import pytest
import requests
from PIL import Image
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.support.browser import browser, pages, screenshot, web_server  # noqa: F401

pytestmark = pytest.mark.backends("production")  # real server and browser: once, on the production database
CHUNK = 8 * 1024 * 1024  # attachments.js's chunk size


def server_env(folder):
    return {"EMBEDDED_WORKER": "1"}


@pytest.fixture
def team(factory):
    ada = factory.user("Ada Lovelace")
    web = factory.project(ada, "WEB", "Website")
    issue = factory.issue(web, ada, title="Crash on upload")
    return {"ada": ada, "web": web, "issue": issue, "token": factory.token(ada)}


def open_issue(pages, team):
    page = pages.new(team["ada"], team["token"])
    page.on("dialog", lambda dialog: pages.errors.append(f"a dialog opened: {dialog.message}"))
    page.goto("/issues/WEB-1")
    expect(page.locator("#attachments[data-loaded=true]")).to_be_attached()
    return page


def attach_by_api(web_server, team, body, filename):
    response = requests.post(f"{web_server.url}/api/v1/issues/{team['issue'].id}/attachments", timeout=10,
                             headers={"Authorization": f"Bearer {team['token']}"}, files={"file": (filename, body)})
    assert response.status_code == 201, response.text
    return response.json()


def test_the_picker_uploads_with_progress_and_shows_a_thumbnail_and_a_table_preview(pages, team, tmp_path):
    photo = tmp_path / "screenshot.png"
    Image.effect_noise((800, 500), 60).convert("RGB").save(photo)
    table = tmp_path / "orders.csv"
    table.write_text("order,amount\n" + "".join(f"{n},{n * 3}\n" for n in range(40)))
    page = open_issue(pages, team)
    page.set_input_files("#file-picker", [str(photo), str(table)])
    items = page.locator("#attachments .attachment")
    expect(items).to_have_count(2, timeout=15000)
    expect(page.get_by_role("img", name="Thumbnail of screenshot.png")).to_have_attribute(
        "src", re.compile("^data:image/png;base64,"), timeout=15000)
    preview = page.locator(".attachment", has_text="orders.csv").locator(".preview-table")
    expect(preview.locator("th")).to_have_text(["order", "amount"], timeout=15000)
    expect(preview.locator("tbody tr")).to_have_count(20)
    expect(page.locator("#uploads .upload")).to_have_count(0)
    screenshot(page, "issue-attachments")


def test_an_upload_cut_by_a_reload_resumes_where_it_stopped(pages, team, tmp_path):
    big = tmp_path / "dump.bin"
    big.write_bytes(bytes(range(256)) * (CHUNK // 256) + b"tail" * 100_000)
    page = open_issue(pages, team)
    seen = []
    page.on("request", lambda request: "/api/v1/uploads" in request.url and seen.append(
        (request.method, request.headers.get("upload-offset"))))

    cut = []

    def cut_later_chunks(route):
        if route.request.method == "PATCH" and route.request.headers.get("upload-offset") != "0":
            cut.append(route.request.headers["upload-offset"])
            return route.abort("connectionreset")  # the network dropped (and stays down for retries)
        return route.continue_()

    pages.expect_error("ERR_CONNECTION_RESET")
    page.route(re.compile(r"/api/v1/uploads/"), cut_later_chunks)
    page.set_input_files("#file-picker", str(big))
    expect(page.locator("#uploads .progress")).to_have_attribute("aria-valuenow", re.compile(r"^[1-9]\d$"), timeout=15000)
    deadline = time.monotonic() + 10
    while not cut and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert cut == [str(CHUNK)] * len(cut) and cut
    page.reload()
    page.unroute(re.compile(r"/api/v1/uploads/"))
    expect(page.locator("#attachments[data-loaded=true]")).to_be_attached()
    seen.clear()
    page.set_input_files("#file-picker", str(big))
    expect(page.locator("#attachments .attachment", has_text="dump.bin")).to_be_visible(timeout=20000)
    assert ("POST", None) not in seen, "the upload was resumed, not started again"
    assert ("HEAD", None) in seen
    assert ("PATCH", str(CHUNK)) in seen


@pytest.mark.parametrize("body, filename", [
    (b"<html><body><script>alert('xss')</script><img src=x onerror=alert(2)></body></html>", "page.html"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(3)"><script>alert(4)</script></svg>', "logo.svg"),
])
def test_an_uploaded_html_or_svg_file_opened_by_its_url_runs_nothing(pages, team, web_server, body, filename):
    item = attach_by_api(web_server, team, body, filename)
    context = pages.browser.new_context(base_url=web_server.url, accept_downloads=True,
                                        extra_http_headers={"Authorization": f"Bearer {team['token']}"})
    pages.contexts.append(context)
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    with page.expect_download() as download:
        try:
            page.goto(item["url"])
        except PlaywrightError as error:  # a download is no page: the navigation is aborted
            assert "Download is starting" in str(error) or "ERR_ABORTED" in str(error)
    assert download.value.suggested_filename == filename
    page.wait_for_timeout(300)
    assert dialogs == []


def test_board_cards_count_attachments_live(pages, team, web_server):
    attach_by_api(web_server, team, b"first file", "a.txt")
    page = pages.new(team["ada"], team["token"])
    page.goto("/projects/WEB")
    expect(page.locator("#board[data-loaded=true]")).to_be_attached()
    card = page.locator(".card-item", has_text="Crash on upload")
    expect(card.get_by_text("1 attachment", exact=True)).to_be_visible()
    expect(page.get_by_text("Live", exact=True)).to_be_visible()
    attach_by_api(web_server, team, b"second file", "b.txt")
    expect(card.get_by_text("2 attachments", exact=True)).to_be_visible(timeout=2000)
