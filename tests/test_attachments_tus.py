"""tus 1.0.0 at /api/v1/uploads, spoken by the Flask test client header by header."""
import base64
import hashlib

import pytest

from tests.conftest import scalar

TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_STREAM = "application/offset+octet-stream"


def metadata(**values):
    return ",".join(f"{key} {base64.b64encode(str(value).encode()).decode()}" for key, value in values.items())


@pytest.fixture
def setup(factory):
    owner = factory.user()
    project = factory.project(owner)
    issue = factory.issue(project, owner)
    return owner, project, issue, {**factory.headers(owner), **TUS}


def create(client, headers, issue_id, length, filename="notes.txt", **extra):
    return client.post("/api/v1/uploads", headers={**headers, "Upload-Length": str(length),
                                                   "Upload-Metadata": metadata(filename=filename, issue_id=issue_id,
                                                                               **extra)})


def content(client, headers, url):
    """The bytes at ``url`` (the response closed: it holds the file open)."""
    with client.get(url, headers=headers) as response:
        return response.status_code, response.data


def patch(client, headers, location, offset, body, **extra):
    return client.patch(location, data=body, headers={**headers, "Upload-Offset": str(offset),
                                                      "Content-Type": OFFSET_STREAM, **extra})


def test_options_describes_the_server_without_authentication(client):
    response = client.options("/api/v1/uploads")
    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert response.headers["Tus-Version"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) == {
        "creation", "creation-with-upload", "termination", "checksum", "expiration"}
    assert set(response.headers["Tus-Checksum-Algorithm"].split(",")) == {"sha1", "sha256", "md5"}
    assert int(response.headers["Tus-Max-Size"]) == 100 * 1024 * 1024


def test_a_request_without_tus_resumable_is_412_naming_the_version(client, setup):
    _owner, _project, issue, headers = setup
    headers = {k: v for k, v in headers.items() if k != "Tus-Resumable"}
    response = create(client, headers, issue.id, 10)
    assert response.status_code == 412
    assert response.headers["Tus-Version"] == "1.0.0"
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert response.mimetype == "application/problem+json"
    assert scalar("SELECT count(*) FROM uploads") == 0


def test_upload_in_chunks_resumes_from_head_and_makes_the_attachment(client, setup):
    _owner, _project, issue, headers = setup
    body = b"hello attachments\n" * 1000
    created = create(client, headers, issue.id, len(body))
    assert created.status_code == 201
    assert created.headers["Tus-Resumable"] == "1.0.0"
    assert "Upload-Expires" in created.headers
    location = created.headers["Location"]
    assert location.startswith("http://localhost/api/v1/uploads/")
    first = patch(client, headers, location, 0, body[:7000])
    assert first.status_code == 204
    assert first.headers["Upload-Offset"] == "7000"
    assert "Beacon-Attachment-Id" not in first.headers
    head = client.head(location, headers=headers)
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == "7000"
    assert head.headers["Upload-Length"] == str(len(body))
    assert head.headers["Cache-Control"] == "no-store"
    last = patch(client, headers, location, 7000, body[7000:])
    assert last.status_code == 204
    assert last.headers["Upload-Offset"] == str(len(body))
    attachment_id = last.headers["Beacon-Attachment-Id"]
    attachment = client.get(f"/api/v1/attachments/{attachment_id}", headers=headers).get_json()
    assert attachment["sha256"] == hashlib.sha256(body).hexdigest()
    assert attachment["content_type"] == "text/plain"
    assert attachment["status"] == "ready"
    assert attachment["filename"] == "notes.txt"
    assert content(client, headers, attachment["url"]) == (200, body)


def test_creation_with_upload_takes_the_first_bytes_in_the_post(client, setup):
    _owner, _project, issue, headers = setup
    body = b"%PDF-1.4\n" + b"x" * 100
    response = client.post("/api/v1/uploads", data=body[:50], headers={
        **headers, "Upload-Length": str(len(body)), "Content-Type": OFFSET_STREAM,
        "Upload-Metadata": metadata(filename="a.pdf", issue_id=issue.id)})
    assert response.status_code == 201
    assert response.headers["Upload-Offset"] == "50"
    done = patch(client, headers, response.headers["Location"], 50, body[50:])
    assert done.headers["Upload-Offset"] == str(len(body))
    assert "Beacon-Attachment-Id" in done.headers


def test_whole_file_in_the_creation_request_completes_it(client, setup):
    _owner, _project, issue, headers = setup
    response = client.post("/api/v1/uploads", data=b"all at once", headers={
        **headers, "Upload-Length": "11", "Content-Type": OFFSET_STREAM,
        "Upload-Metadata": metadata(filename="a.txt", issue_id=issue.id)})
    assert response.status_code == 201
    assert response.headers["Upload-Offset"] == "11"
    assert "Upload-Expires" not in response.headers
    assert response.headers["Beacon-Attachment-Id"]


def test_wrong_offset_is_409_and_changes_nothing(client, setup):
    _owner, _project, issue, headers = setup
    location = create(client, headers, issue.id, 10).headers["Location"]
    assert patch(client, headers, location, 0, b"abc").status_code == 204
    response = patch(client, headers, location, 0, b"abc")
    assert response.status_code == 409
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert client.head(location, headers=headers).headers["Upload-Offset"] == "3"


@pytest.mark.parametrize("content_type, body", [("text/plain", b"abc"), ("application/json", b"[1]"), (None, b"abc")])
def test_patch_needs_the_offset_stream_content_type(client, setup, content_type, body):
    _owner, _project, issue, headers = setup
    location = create(client, headers, issue.id, 10).headers["Location"]
    sent = {**headers, "Upload-Offset": "0", **({"Content-Type": content_type} if content_type else {})}
    response = client.patch(location, data=body, headers=sent)
    assert response.status_code == 415
    assert client.head(location, headers=headers).headers["Upload-Offset"] == "0"


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "md5"])
def test_a_matching_checksum_is_accepted(client, setup, algorithm):
    _owner, _project, issue, headers = setup
    location = create(client, headers, issue.id, 10).headers["Location"]
    digest = base64.b64encode(hashlib.new(algorithm, b"abcde").digest()).decode()
    response = patch(client, headers, location, 0, b"abcde", **{"Upload-Checksum": f"{algorithm} {digest}"})
    assert response.status_code == 204
    assert response.headers["Upload-Offset"] == "5"


def test_a_checksum_mismatch_is_460_and_the_bytes_are_dropped(client, setup):
    _owner, _project, issue, headers = setup
    body = b"0123456789"
    location = create(client, headers, issue.id, 10).headers["Location"]
    assert patch(client, headers, location, 0, body[:4]).status_code == 204
    wrong = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    response = patch(client, headers, location, 4, body[4:], **{"Upload-Checksum": f"sha256 {wrong}"})
    assert response.status_code == 460
    assert client.head(location, headers=headers).headers["Upload-Offset"] == "4"
    done = patch(client, headers, location, 4, body[4:])  # the running hash went back with the bytes
    attachment = client.get(f"/api/v1/attachments/{done.headers['Beacon-Attachment-Id']}", headers=headers).get_json()
    assert attachment["sha256"] == hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize("header", ["crc32 AAAA", "sha256 not*base64"])
def test_an_unknown_checksum_algorithm_or_bad_digest_is_400(client, setup, header):
    _owner, _project, issue, headers = setup
    location = create(client, headers, issue.id, 10).headers["Location"]
    assert patch(client, headers, location, 0, b"abc", **{"Upload-Checksum": header}).status_code == 400
    assert client.head(location, headers=headers).headers["Upload-Offset"] == "0"


def test_a_body_past_upload_length_is_refused(client, setup):
    _owner, _project, issue, headers = setup
    location = create(client, headers, issue.id, 3).headers["Location"]
    assert patch(client, headers, location, 0, b"abcdef").status_code == 413
    assert client.head(location, headers=headers).headers["Upload-Offset"] == "0"


def test_delete_terminates_the_upload(client, setup):
    _owner, _project, issue, headers = setup
    location = create(client, headers, issue.id, 10).headers["Location"]
    response = client.delete(location, headers=headers)
    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert client.head(location, headers=headers).status_code == 404
    assert scalar("SELECT count(*) FROM uploads") == 0


def test_an_expired_upload_is_410_and_the_sweep_deletes_it(app, client, setup):
    from app.attachments.storage import storage
    from app.attachments.uploads import sweep_expired

    _owner, _project, issue, headers = setup
    location = create(client, headers, issue.id, 10).headers["Location"]
    patch(client, headers, location, 0, b"abc")
    upload_id = location.rsplit("/", 1)[1]
    assert storage().part_path(upload_id).exists()
    from app.extensions import db
    from sqlalchemy import text
    db.session.execute(text("UPDATE uploads SET expires_at = '2000-01-01 00:00:00'"))
    db.session.commit()
    assert client.head(location, headers=headers).status_code == 410
    assert patch(client, headers, location, 3, b"def").status_code == 410
    assert sweep_expired() == 1
    assert not storage().part_path(upload_id).exists()
    assert client.head(location, headers=headers).status_code == 404


def test_another_users_upload_is_404(client, factory, setup):
    _owner, project, issue, headers = setup
    location = create(client, headers, issue.id, 10).headers["Location"]
    other = {**factory.role_headers(project, "maintainer"), **TUS}
    assert client.head(location, headers=other).status_code == 404
    assert patch(client, other, location, 0, b"abc").status_code == 404
    assert client.delete(location, headers=other).status_code == 404
    assert client.head(location, headers=headers).headers["Upload-Offset"] == "0"


@pytest.mark.parametrize("role, status", [("none", 404), ("viewer", 403), ("member", 201), ("maintainer", 201),
                                          ("admin", 201)])
def test_creating_needs_the_right_to_comment_on_the_issue(client, factory, setup, role, status):
    _owner, project, issue, _headers = setup
    headers = {**factory.role_headers(project, role), **TUS}
    assert create(client, headers, issue.id, 10).status_code == status


def test_creating_without_a_token_is_401(client, setup):
    _owner, _project, issue, _headers = setup
    assert create(client, TUS, issue.id, 10).status_code == 401


@pytest.mark.parametrize("headers, status", [
    ({"Upload-Length": "abc"}, 400),
    ({"Upload-Length": "-1"}, 400),
    ({}, 400),
    ({"Upload-Length": "10", "Upload-Metadata": "filename !!!notbase64"}, 400),
    ({"Upload-Length": "10", "Upload-Metadata": "filename YQ==,filename YQ=="}, 400),
    ({"Upload-Length": "10", "Upload-Metadata": ""}, 422),
    ({"Upload-Length": "10", "Upload-Metadata": "filename YS50eHQ=,issue_id YWJj"}, 422),
    ({"Upload-Length": "10", "Upload-Metadata": "filename YS50eHQ=,issue_id OTk5OTk5"}, 404),
    ({"Upload-Length": str(100 * 1024 * 1024 + 1), "Upload-Metadata": "filename YS50eHQ=,issue_id MQ=="}, 413),
    ({"Upload-Length": "10", "Upload-Defer-Length": "1"}, 400),
])
def test_bad_creation_headers_are_4xx_and_make_nothing(client, setup, headers, status):
    _owner, _project, _issue, auth = setup
    response = client.post("/api/v1/uploads", headers={**auth, **headers})
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert scalar("SELECT count(*) FROM uploads") == 0


def test_bad_patch_offsets_are_400(client, setup):
    _owner, _project, issue, headers = setup
    location = create(client, headers, issue.id, 10).headers["Location"]
    for offset in ("", "x", "-1", "99999999999999999999999"):
        assert patch(client, headers, location, offset, b"a").status_code == 400


def test_the_project_quota_is_413(make_app, factory):
    app = make_app(ATTACHMENT_PROJECT_QUOTA_BYTES=100)
    with app.app_context():
        client = app.test_client()
        from tests.support.factory import Factory
        factory = Factory(app, client)
        owner = factory.user()
        issue = factory.issue(factory.project(owner), owner)
        headers = {**factory.headers(owner), **TUS}
        assert create(client, headers, issue.id, 60).status_code == 201
        response = create(client, headers, issue.id, 60)  # the unfinished upload counts
        assert response.status_code == 413
        assert response.mimetype == "application/problem+json"


def test_an_executable_becomes_a_rejected_attachment_and_its_bytes_are_deleted(client, setup):
    from app.attachments.storage import storage

    _owner, _project, issue, headers = setup
    body = b"#!/bin/sh\necho pwned\n"
    location = create(client, headers, issue.id, len(body), filename="run.txt").headers["Location"]
    done = patch(client, headers, location, 0, body)
    assert done.status_code == 204
    attachment = client.get(f"/api/v1/attachments/{done.headers['Beacon-Attachment-Id']}", headers=headers).get_json()
    assert attachment["status"] == "rejected"
    assert "#!" in attachment["reason"]
    assert not storage().blob_path(attachment["sha256"]).exists()
    assert not storage().part_path(location.rsplit("/", 1)[1]).exists()
    assert client.get(attachment["url"], headers=headers).status_code == 409


@pytest.mark.parametrize("head", [b"\x7fELF\x02\x01\x01" + b"\0" * 60, b"MZ\x90\x00" + b"\0" * 60,
                                  b"\xcf\xfa\xed\xfe" + b"\0" * 60])
def test_binaries_are_rejected_whatever_their_name(client, setup, head):
    _owner, _project, issue, headers = setup
    location = create(client, headers, issue.id, len(head), filename="photo.png").headers["Location"]
    done = patch(client, headers, location, 0, head)
    attachment = client.get(f"/api/v1/attachments/{done.headers['Beacon-Attachment-Id']}", headers=headers).get_json()
    assert attachment["status"] == "rejected"


def test_a_known_sha256_in_a_readable_project_completes_at_once(client, factory, setup):
    _owner, project, issue, headers = setup
    body = b"the same bytes twice"
    sha = hashlib.sha256(body).hexdigest()
    location = create(client, headers, issue.id, len(body)).headers["Location"]
    patch(client, headers, location, 0, body)
    again = create(client, headers, issue.id, len(body), filename="copy.txt", sha256=sha)
    assert again.status_code == 201
    assert again.headers["Upload-Offset"] == str(len(body))
    copy = client.get(f"/api/v1/attachments/{again.headers['Beacon-Attachment-Id']}", headers=headers).get_json()
    assert copy["filename"] == "copy.txt"
    assert content(client, headers, copy["url"]) == (200, body)
    assert scalar("SELECT count(*) FROM blobs") == 1


def test_the_sha256_shortcut_never_reveals_a_file_of_an_unreadable_project(client, factory, setup):
    owner, _project, issue, headers = setup
    body = b"a secret of project WEB"
    location = create(client, headers, issue.id, len(body)).headers["Location"]
    patch(client, headers, location, 0, body)
    stranger = factory.user()
    other_issue = factory.issue(factory.project(stranger, key="OPS"), stranger)
    stranger_headers = {**factory.headers(stranger), **TUS}
    response = create(client, stranger_headers, other_issue.id, len(body), sha256=hashlib.sha256(body).hexdigest())
    assert response.status_code == 201
    assert response.headers["Upload-Offset"] == "0"  # an ordinary upload: nothing told
    assert "Beacon-Attachment-Id" not in response.headers


def test_a_patch_larger_than_max_content_length_is_taken_whole(make_app):
    from tests.support.factory import Factory

    app = make_app(MAX_CONTENT_LENGTH=1000)  # the app's limit for other bodies
    with app.app_context():
        client = app.test_client()
        factory = Factory(app, client)
        owner = factory.user()
        issue = factory.issue(factory.project(owner), owner)
        headers = {**factory.headers(owner), **TUS}
        body = b"z" * 5000
        location = create(client, headers, issue.id, len(body)).headers["Location"]
        done = patch(client, headers, location, 0, body)
        assert done.status_code == 204 and done.headers["Upload-Offset"] == "5000"


def test_an_empty_patch_at_the_end_of_a_complete_upload_is_204(client, setup):
    _owner, _project, issue, headers = setup
    location = create(client, headers, issue.id, 3).headers["Location"]
    done = patch(client, headers, location, 0, b"abc")
    again = patch(client, headers, location, 3, b"")
    assert again.status_code == 204
    assert again.headers["Upload-Offset"] == "3"
    assert again.headers["Beacon-Attachment-Id"] == done.headers["Beacon-Attachment-Id"]
    assert scalar("SELECT count(*) FROM attachments") == 1
