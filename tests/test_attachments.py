"""Attachments over REST: one-request uploads, lists, removal, shared blobs, events, and
the bytes served so that no upload can run a script on this origin."""
import hashlib
import io

import pytest

from tests.conftest import scalar


@pytest.fixture
def setup(factory):
    owner = factory.user()
    project = factory.project(owner)
    issue = factory.issue(project, owner)
    return owner, project, issue, factory.headers(owner)


def upload(client, headers, issue_id, body, filename="notes.txt"):
    return client.post(f"/api/v1/issues/{issue_id}/attachments", headers=headers,
                       data={"file": (io.BytesIO(body), filename)}, content_type="multipart/form-data")


def fetch(client, headers, url, **extra):
    """A response whose body is read and whose file is closed."""
    with client.get(url, headers={**headers, **extra}) as response:
        response.get_data()
        return response


PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def test_one_request_upload_makes_a_ready_attachment(client, setup):
    owner, _project, issue, headers = setup
    response = upload(client, headers, issue.id, b"plain words", filename="../../etc/pass\x07wd.txt")
    assert response.status_code == 201
    item = response.get_json()
    assert item["filename"] == "passwd.txt"
    assert item["status"] == "ready" and item["reason"] is None
    assert item["size"] == 11 and item["sha256"] == hashlib.sha256(b"plain words").hexdigest()
    assert item["uploader_id"] == owner.id and item["issue_id"] == issue.id
    assert item["url"] == f"/api/v1/attachments/{item['id']}/content"
    listed = client.get(f"/api/v1/issues/{issue.id}/attachments", headers=headers).get_json()
    assert [a["id"] for a in listed["items"]] == [item["id"]] and listed["next_cursor"] is None


def test_an_executable_in_one_request_is_422_and_stores_nothing(client, setup):
    _owner, _project, issue, headers = setup
    response = upload(client, headers, issue.id, b"\x7fELF\x02\x01\x01" + b"\0" * 100, filename="cat.jpg")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert scalar("SELECT count(*) FROM blobs") == 0


@pytest.mark.parametrize("kwargs", [
    lambda: {"data": b"not a form", "content_type": "application/octet-stream"},
    lambda: {"data": {"other": (io.BytesIO(b"x"), "x.txt")}, "content_type": "multipart/form-data"},
    lambda: {"json": {"file": "abc"}},
])
def test_a_request_without_the_file_field_is_422(client, setup, kwargs):
    _owner, _project, issue, headers = setup
    response = client.post(f"/api/v1/issues/{issue.id}/attachments", headers=headers, **kwargs())
    assert response.status_code == 422
    assert scalar("SELECT count(*) FROM attachments") == 0


def test_a_file_over_the_size_limit_is_413(make_app):
    from tests.support.factory import Factory

    app = make_app(ATTACHMENT_MAX_BYTES=10)
    with app.app_context():
        client = app.test_client()
        factory = Factory(app, client)
        owner = factory.user()
        issue = factory.issue(factory.project(owner), owner)
        response = upload(client, factory.headers(owner), issue.id, b"eleven byte")
        assert response.status_code == 413
        assert scalar("SELECT count(*) FROM attachments") == 0


@pytest.mark.parametrize("role, upload_status, read_status", [
    ("none", 404, 404), ("viewer", 403, 200), ("member", 201, 200), ("maintainer", 201, 200), ("admin", 201, 200)])
def test_access_by_role(client, factory, setup, role, upload_status, read_status):
    _owner, project, issue, headers = setup
    item = upload(client, headers, issue.id, b"some text").get_json()
    other = factory.role_headers(project, role)
    assert upload(client, other, issue.id, b"more text").status_code == upload_status
    assert client.get(f"/api/v1/issues/{issue.id}/attachments", headers=other).status_code == read_status
    assert client.get(f"/api/v1/attachments/{item['id']}", headers=other).status_code == read_status
    assert fetch(client, other, item["url"]).status_code == read_status


@pytest.mark.parametrize("role, status", [("viewer", 403), ("member", 403), ("maintainer", 204), ("admin", 204)])
def test_the_uploader_or_a_maintainer_removes(client, factory, setup, role, status):
    _owner, project, issue, headers = setup
    item = upload(client, headers, issue.id, b"some text").get_json()
    assert client.delete(f"/api/v1/attachments/{item['id']}", headers=factory.role_headers(project, role)).status_code == status


def test_the_same_bytes_are_stored_once_and_freed_with_the_last_attachment(app, client, factory, setup):
    from app.attachments.storage import storage

    owner, project, issue, headers = setup
    other_issue = factory.issue(project, owner)
    first = upload(client, headers, issue.id, b"shared bytes", "a.txt").get_json()
    second = upload(client, headers, other_issue.id, b"shared bytes", "b.txt").get_json()
    assert first["sha256"] == second["sha256"]
    assert scalar("SELECT count(*) FROM blobs") == 1
    path = storage().blob_path(first["sha256"])
    assert path.exists()
    assert client.delete(f"/api/v1/attachments/{first['id']}", headers=headers).status_code == 204
    assert path.exists()
    assert fetch(client, headers, second["url"]).data == b"shared bytes"
    assert client.delete(f"/api/v1/attachments/{second['id']}", headers=headers).status_code == 204
    assert not path.exists()
    assert scalar("SELECT count(*) FROM blobs") == 0


def test_adding_and_removing_write_events_to_the_feed(client, setup):
    owner, project, issue, headers = setup
    item = upload(client, headers, issue.id, b"some text").get_json()
    client.delete(f"/api/v1/attachments/{item['id']}", headers=headers)
    events = client.get(f"/api/v1/projects/{project.key}/events", headers=headers).get_json()["items"]
    added, removed = [e for e in events if e["type"].startswith("attachment.")]
    assert added["type"] == "attachment.added" and added["data"]["attachment"]["id"] == item["id"]
    assert added["data"]["issue_id"] == issue.id and added["actor_id"] == owner.id
    assert removed["type"] == "attachment.removed" and removed["data"]["attachment"]["id"] == item["id"]


def test_a_failing_event_rolls_the_attachment_back(app, client, setup, monkeypatch):
    from app.attachments import service

    _owner, _project, issue, headers = setup

    def broken(*args, **kwargs):
        raise RuntimeError("event store down")

    monkeypatch.setattr(service, "record_event", broken)
    assert upload(client, headers, issue.id, b"some text").status_code == 500
    assert scalar("SELECT count(*) FROM attachments") == 0


def test_unknown_ids_are_404(client, setup):
    _owner, _project, _issue, headers = setup
    for url in ("/api/v1/attachments/999999", "/api/v1/attachments/999999/content",
                "/api/v1/attachments/999999/thumbnail", "/api/v1/issues/999999/attachments",
                "/api/v1/attachments/99999999999999999999"):
        assert fetch(client, headers, url).status_code == 404
    assert client.delete("/api/v1/attachments/999999", headers=headers).status_code == 404


# Serving


def test_content_has_etag_range_nosniff_sandbox_and_download_disposition(client, setup):
    _owner, _project, issue, headers = setup
    body = bytes(range(256)) * 10
    item = upload(client, headers, issue.id, body, filename="data.bin").get_json()
    whole = fetch(client, headers, item["url"])
    assert whole.status_code == 200 and whole.data == body
    assert whole.headers["ETag"] == f'"{item["sha256"]}"'
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["X-Content-Type-Options"] == "nosniff"
    assert whole.headers["Content-Security-Policy"] == "sandbox"
    assert whole.headers["Content-Disposition"].startswith("attachment;")
    assert "data.bin" in whole.headers["Content-Disposition"]
    part = fetch(client, headers, item["url"], Range="bytes=10-19")
    assert part.status_code == 206 and part.data == body[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(body)}"
    assert fetch(client, headers, item["url"], **{"If-None-Match": whole.headers["ETag"]}).status_code == 304
    assert fetch(client, headers, item["url"], Range=f"bytes={len(body) + 5}-").status_code == 416


@pytest.mark.parametrize("body, filename, content_type, disposition", [
    (PNG, "x.png", "image/png", "inline"),
    (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n", "x.pdf", "application/pdf", "inline"),
    (b"<html><body><script>alert(1)</script></body></html>", "page.png", "text/html", "attachment"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "x.svg", "image/svg+xml",
     "attachment"),
    (b"alert(document.cookie);\n", "x.js", "text/plain", "attachment"),
])
def test_only_raster_images_and_pdf_are_inline(client, setup, body, filename, content_type, disposition):
    _owner, _project, issue, headers = setup
    item = upload(client, headers, issue.id, body, filename=filename).get_json()
    assert item["content_type"] == content_type
    response = fetch(client, headers, item["url"])
    assert response.mimetype == content_type
    assert response.headers["Content-Disposition"].split(";")[0] == disposition
    assert response.headers["Content-Security-Policy"] == "sandbox"


@pytest.mark.parametrize("given, expected", [
    ("../../etc/passwd", "passwd"), ("C:\\Users\\x\\report.pdf", "report.pdf"), ("a\x00b\x1b[31mc.txt", "ab[31mc.txt"),
    (".htaccess", "htaccess"), ('what?<is>"this".txt', "what__is__this_.txt"), ("", "file"), ("\u202egnp.exe", "gnp.exe"),
])
def test_filenames_are_sanitised(given, expected):
    from app.attachments.filetypes import sanitize_filename

    assert sanitize_filename(given) == expected


def test_a_long_filename_keeps_its_extension_within_255_bytes():
    from app.attachments.filetypes import sanitize_filename

    name = sanitize_filename("é" * 200 + ".png")
    assert len(name.encode()) <= 255 and name.endswith(".png")
