"""Playwright on Debian's Chromium: one browser per test module, a signed-in context per user.

Every page a test opens records its console errors and uncaught exceptions; ``Pages.close``
fails the test if any page had one that the test did not expect.
"""
import json
import os
import re
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "app" / "web" / "static" / "vendor"
VENDORED = ("socket.io.esm.min.js", "chart.umd.min.js", "marked.esm.js", "purify.es.mjs", "tus.min.js")


def launch(playwright):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
    missing = [name for name in VENDORED if not (VENDOR / name).exists()]
    if missing:
        pytest.fail(f"browser libraries {missing} are missing: run `make assets`")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


class Pages:
    """Browser contexts of one test, each a user with its own sessionStorage token."""

    def __init__(self, browser, base_url):
        self.browser, self.base_url = browser, base_url
        self.contexts, self.errors, self.expected = [], [], []

    def new(self, user=None, token=None):
        """A page of a new context; signed in as ``user`` when a token is given."""
        context = self.browser.new_context(base_url=self.base_url, viewport={"width": 1280, "height": 900})
        self.contexts.append(context)
        if user is not None:
            from app.users.service import user_dict

            context.add_init_script(
                "if (!sessionStorage.getItem('beacon.token')) {"
                f"sessionStorage.setItem('beacon.token', {json.dumps(token)});"
                f"sessionStorage.setItem('beacon.user', {json.dumps(json.dumps(user_dict(user)))});}}")
        page = context.new_page()
        page.set_default_timeout(5000)
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        return page

    def expect_error(self, pattern):
        """Allow console errors matching ``pattern`` (e.g. the 401 of a wrong password)."""
        self.expected.append(re.compile(pattern))

    def unexpected(self):
        return [e for e in self.errors if not any(p.search(e) for p in self.expected)]

    def close(self):
        """Close every tab as a browser does (unload handlers run, so sockets say goodbye)."""
        for context in self.contexts:
            for page in context.pages:
                page.close(run_before_unload=True)
                page.wait_for_event("close")
            context.close()


class SocketTap:
    """A page's Socket.IO WebSockets, routed through Playwright to the real server: frames
    from the server can be dropped (``drop(frame) -> bool``), frames can be sent to the page
    as if the server sent them, and the connection can be cut and kept down. Install it
    before the page opens its socket."""

    def __init__(self, page):
        self.drop, self.down, self.sockets = None, False, []
        page.route_web_socket(re.compile(r"/socket\.io/"), self._route)
        # While down, the client's fallback to long-polling fails too.
        page.route(re.compile(r"/socket\.io/"), lambda route: route.abort() if self.down else route.continue_())

    def _route(self, ws):
        if self.down:
            ws.close()
            return
        server = ws.connect_to_server()
        server.on_message(lambda frame: None if self.drop and self.drop(frame) else ws.send(frame))
        self.sockets.append((ws, server))

    def send(self, event, payload):
        """Send a ``/realtime`` event to the page on its open socket."""
        ws, _server = self.sockets[-1]
        ws.send("42/realtime," + json.dumps([event, payload]))

    def cut(self):
        """Close the page's sockets and refuse new ones until ``restore``."""
        self.down = True
        for ws, server in self.sockets:
            server.close()
            ws.close()
        self.sockets = []

    def restore(self):
        self.down = False


def screenshot(page, name):
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def web_server(request, database_url, tmp_path_factory):
    """One real ``python app.py`` per module; the module's ``server_env(folder)`` adds settings."""
    from tests.conftest import INSTANCE
    from tests.support.live import Server

    folder = tmp_path_factory.mktemp("web")
    extra = getattr(request.module, "server_env", lambda folder: {})(folder)
    env = {"DATABASE_URL": database_url, "BEACON_INSTANCE_PATH": INSTANCE, "EMBEDDED_WORKER": "0",
           "RATE_LIMIT_SIGNIN": "1000/minute;1000/minute", "ANALYTICS_CACHE_SECONDS": "0", **extra}
    server = Server(env, folder / "server.log")
    yield server
    server.kill()


@pytest.fixture
def pages(browser, web_server, app):
    """Contexts for this test; afterwards, no page may have logged an unexpected error."""
    opened = Pages(browser, web_server.url)
    yield opened
    opened.close()
    errors = opened.unexpected()
    assert not errors, f"errors in the browser console: {errors}"


@pytest.fixture
def team(factory):
    """Ada (maintainer of WEB), Bob and Carl (members), each with a token."""
    ada, bob, carl = factory.user("Ada Lovelace"), factory.user("Bob Stone"), factory.user("Carl Member")
    web = factory.project(ada, "WEB", "Website")
    factory.member(web, bob, "member")
    factory.member(web, carl, "member")
    tokens = {name: factory.token(user) for name, user in (("ada", ada), ("bob", bob), ("carl", carl))}
    return {"ada": ada, "bob": bob, "carl": carl, "web": web, "tokens": tokens}
