"""Backups hold the attachments' bytes: deduplicated like rows, checked by verify, and
brought back by a restore onto an empty attachment storage (another machine)."""
import os

import pytest
from urllib3 import encode_multipart_formdata

from app.attachments.storage import FileStorage, storage
from app.backups import service
from app.backups.verify import verify_backup
from app.extensions import db
from tests.support.backups import chunk_path, flip_byte, read_manifest, repo_dir

__all__ = ["repo_dir"]
MB = 1024 * 1024


@pytest.fixture
def attached(factory, client):
    owner = factory.admin()
    issue = factory.issue(factory.project(owner), owner)
    headers = factory.headers(owner)

    def attach(body, filename="data.bin"):
        # Encoded here: the test client spools a large form to a temporary file it never closes.
        form, content_type = encode_multipart_formdata({"file": (filename, body)})
        response = client.post(f"/api/v1/issues/{issue.id}/attachments", headers=headers, data=form,
                               content_type=content_type)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return attach, headers


def test_a_new_10_mb_file_is_written_once_and_the_next_backup_writes_none_of_it(app, attached, repo_dir):
    attach, _headers = attached
    first = service.run_backup(None, None)
    attach(os.urandom(10 * MB))
    second = service.run_backup(None, None)
    third = service.run_backup(None, None)
    assert second["status"] == "verified"
    assert 10 * MB <= second["new_bytes"] < 10.5 * MB
    assert third["new_bytes"] < 0.5 * MB
    assert third["size_bytes"] >= 10 * MB > first["size_bytes"]
    manifest = read_manifest(repo_dir, third["id"])["manifest"]
    assert [entry["size"] for entry in manifest["blobs"]] == [10 * MB]


def test_verify_names_a_damaged_attachment_chunk(app, attached, repo_dir):
    attach, _headers = attached
    item = attach(os.urandom(MB))
    record = service.run_backup(None, None)
    piece = read_manifest(repo_dir, record["id"])["manifest"]["blobs"][0]["pieces"][0]["hash"]
    flip_byte(chunk_path(repo_dir, piece), offset=1000)
    result = verify_backup(record["id"])
    assert result["ok"] is False
    assert f"attachment blob {item['sha256']}" in result["error"]


def test_prune_keeps_the_chunks_of_attachments(app, attached, repo_dir):
    attach, _headers = attached
    attach(os.urandom(MB))
    record = service.run_backup(None, None)
    assert service.sweep(service.repository()) == 0
    assert verify_backup(record["id"])["ok"] is True


def test_a_restore_onto_an_empty_attachment_storage_brings_every_file_back(app, client, attached, repo_dir,
                                                                            tmp_path, monkeypatch):
    attach, headers = attached
    body = os.urandom(5 * MB + 7)
    item = attach(body)
    text_item = attach(b"second file", "notes.txt")
    record = service.run_backup(None, None)
    client.delete(f"/api/v1/attachments/{item['id']}", headers=headers)
    assert not storage().has_blob(item["sha256"])
    # Another machine: the same database and repository, and nothing in instance/attachments.
    monkeypatch.setitem(app.extensions, "beacon_attachment_storage", FileStorage(tmp_path / "elsewhere"))
    service.run_restore(record["id"])
    db.session.expire_all()
    for attachment, expected in ((item, body), (text_item, b"second file")):
        with client.get(attachment["url"], headers=headers) as response:
            assert response.status_code == 200 and response.data == expected
