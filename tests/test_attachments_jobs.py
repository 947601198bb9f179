"""The attachment job, run by a real RQ worker: thumbnails, table and text previews,
a decompression bomb refused, and the scheduled sweep of expired uploads."""
import io
import json

import pytest
from PIL import Image

from app.worker import get_queue
from tests.support.jobs import run_jobs


@pytest.fixture
def setup(factory):
    owner = factory.user()
    project = factory.project(owner)
    issue = factory.issue(project, owner)
    return issue, factory.headers(owner)


def upload(client, headers, issue_id, body, filename):
    response = client.post(f"/api/v1/issues/{issue_id}/attachments", headers=headers,
                           data={"file": (io.BytesIO(body), filename)}, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def processed(app, client, headers, item):
    run_jobs(app)
    return client.get(f"/api/v1/attachments/{item['id']}", headers=headers).get_json()


def image_bytes(size, kind="JPEG"):
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, kind)
    return out.getvalue()


@pytest.mark.parametrize("size, kind, expected", [((1200, 600), "JPEG", (256, 128)), ((300, 900), "PNG", (85, 256)),
                                                  ((40, 30), "GIF", (40, 30))])
def test_an_image_gets_a_thumbnail_whose_longest_side_is_256(app, client, setup, size, kind, expected):
    issue, headers = setup
    item = upload(client, headers, issue.id, image_bytes(size, kind), f"photo.{kind.lower()}")
    assert item["thumbnail_url"] is None
    done = processed(app, client, headers, item)
    assert done["thumbnail_url"] == f"/api/v1/attachments/{item['id']}/thumbnail"
    with client.get(done["thumbnail_url"], headers=headers) as response:
        assert response.status_code == 200 and response.mimetype == "image/png"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert Image.open(io.BytesIO(response.data)).size == expected


def test_the_same_image_again_has_its_thumbnail_at_once_and_queues_nothing(app, client, setup):
    issue, headers = setup
    body = image_bytes((500, 500))
    processed(app, client, headers, upload(client, headers, issue.id, body, "a.jpg"))
    queued = get_queue(app).count
    again = upload(client, headers, issue.id, body, "b.jpg")
    assert again["thumbnail_url"] is not None
    assert get_queue(app).count == queued


def test_a_decompression_bomb_gets_no_thumbnail_and_stays_ready(app, client, setup):
    issue, headers = setup
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, "PNG")  # 400 M pixels in a few KB
    item = upload(client, headers, issue.id, out.getvalue(), "bomb.png")
    done = processed(app, client, headers, item)
    assert done["status"] == "ready" and done["thumbnail_url"] is None


def test_a_csv_in_windows_1252_with_semicolons_gets_a_table_preview_of_20_rows(app, client, setup):
    issue, headers = setup
    lines = ["name;city;amount"] + [f"Zoë {n};Besançon;{n}" for n in range(30)]
    item = upload(client, headers, issue.id, "\n".join(lines).encode("cp1252"), "export.csv")
    preview = processed(app, client, headers, item)["preview"]
    assert preview["kind"] == "table"
    assert preview["columns"] == ["name", "city", "amount"]
    assert len(preview["rows"]) == 20
    assert preview["rows"][0] == ["Zoë 0", "Besançon", "0"]


def test_a_tsv_gets_a_table_preview(app, client, setup):
    issue, headers = setup
    item = upload(client, headers, issue.id, b"a\tb\tc\n1\t2\t3\n4\t5\t6\n", "data.tsv")
    preview = processed(app, client, headers, item)["preview"]
    assert preview == {"kind": "table", "delimiter": "\t", "columns": ["a", "b", "c"], "rows": [["1", "2", "3"],
                                                                                               ["4", "5", "6"]]}


def test_json_and_text_get_the_first_2_kb_as_text(app, client, setup):
    issue, headers = setup
    document = json.dumps({"items": list(range(2000))}).encode()
    json_item = upload(client, headers, issue.id, document, "data.json")
    text_item = upload(client, headers, issue.id, "Ünïcode words here.\n".encode() * 300, "log.txt")
    run_jobs(app)
    json_preview = client.get(f"/api/v1/attachments/{json_item['id']}", headers=headers).get_json()["preview"]
    text_preview = client.get(f"/api/v1/attachments/{text_item['id']}", headers=headers).get_json()["preview"]
    assert json_preview == {"kind": "text", "text": document.decode()[:2048]}
    assert text_preview["kind"] == "text" and text_preview["text"].startswith("Ünïcode words here.")
    assert len(text_preview["text"]) == 2048


def test_the_sweep_of_expired_uploads_is_scheduled_with_the_other_jobs(app):
    names = [entry["name"] for entry in app.extensions["beacon_schedule"]]
    assert "sweep_uploads" in names and "reap_batches" in names
