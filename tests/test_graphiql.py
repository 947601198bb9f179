"""GraphiQL at /graphql in Debian's Chromium: vendored from npm, signed in with the tab's token."""
import pytest
from playwright.sync_api import expect

from tests.support.browser import browser, pages, web_server  # noqa: F401

pytestmark = pytest.mark.backends("production")  # real server and browser: once, on the production database


def test_graphiql_runs_a_query_with_the_tabs_token(pages, factory):
    ada = factory.user("Ada Lovelace")
    factory.project(ada, "WEB", "Website")
    # GraphiQL's stylesheet inlines its fonts as data: URLs, which the pages' CSP (font-src
    # 'self') refuses: it falls back to the system's fonts, and the page works.
    pages.expect_error(r"Loading the font 'data:font/")
    page = pages.new(ada, factory.token(ada))
    page.goto("/graphql")
    run = page.locator(".graphiql-execute-button")
    expect(run).to_be_visible(timeout=15000)
    run.click()
    result = page.locator(".result-window")
    expect(result).to_contain_text("Ada Lovelace", timeout=10000)
    expect(result).to_contain_text('"key": "WEB"')
    assert not pages.unexpected()
