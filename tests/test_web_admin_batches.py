"""The batches and admin pages in Chromium, against a real server with its embedded worker.

Written against CONTRACT.md sections 5, 6 and 9 (batches, backups, admin endpoints), which
are built on other branches: run after merging them.
"""
import json

import pytest
import requests
from playwright.sync_api import expect

from tests.support.browser import browser, pages, screenshot, web_server  # noqa: F401

pytestmark = pytest.mark.backends("production")  # real server and browser: once, on the production database


def server_env(folder):
    """The embedded mode: jobs (batches, backups) run on a worker thread in the server."""
    return {"EMBEDDED_WORKER": "1", "BACKUP_DIR": str(folder / "backups"), "BACKUP_SCHEDULE": "off"}


@pytest.fixture
def ada(factory):
    user = factory.user("Ada Lovelace")
    factory.project(user, "WEB", "Website")
    return user


def signed_in(pages, factory, user):
    return pages.new(user, factory.token(user))


def api(server, token, path, **kwargs):
    return requests.request(kwargs.pop("method", "GET"), f"{server.url}/api/v1{path}",
                            headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs)


def record_progress(page):
    """Keep every aria-valuenow the progress bar shows in window.seenProgress."""
    page.evaluate("""() => {
        window.seenProgress = [];
        const bar = document.getElementById('progress');
        new MutationObserver(() => window.seenProgress.push(Number(bar.getAttribute('aria-valuenow'))))
            .observe(bar, {attributes: true, attributeFilter: ['aria-valuenow']});
    }""")


def test_a_2000_operation_batch_shows_live_progress_to_100_and_its_results(pages, factory, ada, web_server):
    operations = [{"op": "create", "resource": "issue", "data": {"project": "WEB", "title": f"Imported {n}"}}
                  for n in range(1990)]
    operations += [{"op": "update", "resource": "issue", "id": 10**9 + n, "data": {"status": "closed"}} for n in range(5)]
    operations += [{"op": "create", "resource": "issue", "data": {"project": "NOPE", "title": "x"}} for n in range(5)]
    page = signed_in(pages, factory, ada)
    page.goto("/batches")
    record_progress(page)
    page.get_by_label("Operations (JSON").fill(json.dumps(operations))
    page.get_by_label("Mode").select_option("best_effort")
    page.get_by_role("button", name="Submit batch").click()

    bar = page.get_by_role("progressbar", name="Batch progress")
    expect(bar).to_have_attribute("aria-valuenow", "100", timeout=60_000)
    expect(page.locator("#progress-text")).to_contain_text("2000 of 2000 done · 1990 succeeded · 10 failed")
    expect(page.locator("#result-rows tr")).to_have_count(2000, timeout=10_000)
    seen = page.evaluate("window.seenProgress")
    assert seen == sorted(seen) and seen[-1] == 100  # only ever forward
    batch_id = int(page.locator("#batch-id").inner_text().lstrip("#"))
    batch = api(web_server, factory.token(ada), f"/batches/{batch_id}").json()
    assert (batch["status"], batch["succeeded"], batch["failed"]) == ("partially_succeeded", 1990, 10)
    if batch["duration_ms"] > 1000:  # a batch that ran for a while was seen on its way
        assert any(0 < value < 100 for value in seen), seen

    page.get_by_label("Only failures").check()
    failures = page.locator("#result-rows tr")
    expect(failures).to_have_count(10)
    for n in range(10):
        cells = failures.nth(n).locator("td")
        expect(cells.nth(1)).to_have_text("failed")
        assert cells.nth(3).inner_text().strip(), "each failure says why"
    expect(failures.first.locator("td").first).to_have_text("1990")
    screenshot(page, "batch-finished")
    issues = api(web_server, factory.token(ada), "/projects/WEB/issues?limit=1&q=Imported").json()
    assert issues["items"] and issues["items"][0]["title"].startswith("Imported")
    expect(page.get_by_role("link", name=f"#{batch_id}")).to_be_visible()  # in "Your batches"


def test_a_csv_upload_runs_as_a_batch(pages, factory, ada, web_server):
    csv = ('op,resource,lid,id,project,title,labels,issue_lid,body,status\n'
           'create,issue,a,,WEB,"Imported, from CSV",ops;csv,,,\n'
           'create,comment,,,,,,a,"Says ""hi""",\n'
           'update,issue,,999999999,,,,,,closed\n')
    page = signed_in(pages, factory, ada)
    page.goto("/batches")
    page.get_by_label("…or a CSV file of operations").set_input_files(
        files=[{"name": "ops.csv", "mimeType": "text/csv", "buffer": csv.encode()}])
    page.get_by_role("button", name="Submit batch").click()
    rows = page.locator("#result-rows tr")
    expect(rows).to_have_count(3, timeout=30_000)
    expect(rows.locator("td:nth-child(2)")).to_have_text(["succeeded", "succeeded", "failed"])
    assert rows.nth(2).locator("td").nth(3).inner_text().strip()
    issue = api(web_server, factory.token(ada), "/issues/by-key/WEB-1").json()
    assert (issue["title"], issue["labels"]) == ("Imported, from CSV", ["csv", "ops"])
    comments = api(web_server, factory.token(ada), f"/issues/{issue['id']}/comments").json()["items"]
    assert [c["body"] for c in comments] == ['Says "hi"']


def test_an_invalid_batch_says_where_and_queues_nothing(pages, factory, ada, web_server):
    pages.expect_error(r"status of 422")
    page = signed_in(pages, factory, ada)
    page.goto("/batches")
    page.get_by_label("Operations (JSON").fill('[{"op": "create", "resource": "issue", "data": {"project": "WEB"}}]')
    page.get_by_role("button", name="Submit batch").click()
    expect(page.locator("#batch-error")).to_contain_text("operations/0/data/title")
    page.get_by_label("Operations (JSON").fill("[{not json")
    page.get_by_role("button", name="Submit batch").click()
    expect(page.locator("#batch-error")).to_contain_text("not valid JSON")
    assert api(web_server, factory.token(ada), "/batches").json()["items"] == []


def test_an_admin_creates_verifies_and_restores_a_backup_from_the_page(pages, factory, web_server):
    admin = factory.admin("Grace Admin")
    factory.project(admin, "OPS", "Operations")
    page = signed_in(pages, factory, admin)
    page.goto("/admin")
    expect(page.get_by_role("heading", name="Backups")).to_be_visible()
    expect(page.get_by_role("cell", name="Grace Admin", exact=True)).to_be_visible()  # users

    page.get_by_label("Note").fill("before the release")
    page.get_by_role("button", name="Create backup").click()
    row = page.locator("#backup-rows tr", has_text="before the release")
    expect(row).to_have_attribute("data-status", "verified", timeout=30_000)  # live: backup.finished
    expect(page.locator("#backup-status")).to_have_text("Backup: done.", timeout=10_000)
    backup_id = row.locator("code").inner_text()
    assert backup_id

    row.get_by_role("button", name="Verify").click()
    expect(page.locator("#backup-status")).to_have_text(f"Verify {backup_id}: done.", timeout=30_000)
    record = api(web_server, factory.token(admin), f"/admin/backups/{backup_id}").json()
    assert record["status"] == "verified" and record["verified_at"]
    screenshot(page, "admin-backups")

    from app.extensions import db

    db.session.rollback()  # this test's own open transaction must not hold locks the restore needs
    row.get_by_role("button", name="Restore").click()
    dialog = page.get_by_role("dialog", name="Restore backup")
    expect(dialog).to_be_visible()
    go = dialog.get_by_role("button", name="Restore")
    expect(go).to_be_disabled()
    dialog.get_by_label("Backup id").fill(backup_id[:-1])
    expect(go).to_be_disabled()  # the id must be typed exactly
    dialog.get_by_label("Backup id").fill(backup_id)
    go.click()
    expect(page.locator("#backup-status")).to_have_text(f"Restore {backup_id}: done.", timeout=60_000)
    expect(page.locator("#backup-rows tr", has_text=backup_id).first).to_be_visible()
    expect(page.locator("#backup-rows tr")).to_have_count(2)  # the safety backup taken first
    expect(page.locator("#audit-rows")).to_contain_text("backup")


def test_an_admin_adds_a_user_and_deactivates_them(pages, factory, web_server):
    admin = factory.admin("Grace Admin")
    page = signed_in(pages, factory, admin)
    page.goto("/admin")
    page.get_by_text("New user").click()
    form = page.locator("#user-form")
    form.get_by_label("Email").fill("new.person@example.test")
    form.get_by_label("Name").fill("New Person")
    form.get_by_label("Password").fill("a long enough password")
    form.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("cell", name="New Person", exact=True)).to_be_visible()
    active = page.get_by_role("checkbox", name="Active: New Person")
    with page.expect_response(lambda r: "/api/v1/admin/users/" in r.url and r.request.method == "PATCH") as patched:
        active.uncheck()
    assert patched.value.status == 200
    assert requests.post(f"{web_server.url}/api/v1/auth/tokens", timeout=10,
                         json={"email": "new.person@example.test", "password": "a long enough password"}).status_code == 401
    expect(page.locator("#audit-rows")).to_contain_text("user", timeout=5000)
