"""tus with real clients over real sockets: tuspy, tus-js-client run by Node, and raw
sockets for what clients do not do on purpose (two PATCHes at once, a cut connection)."""
import base64
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import time

import pytest
import requests
from tusclient import client as tus_client
from tusclient.uploader import Uploader

from tests.support.live import ROOT

TUS = {"Tus-Resumable": "1.0.0"}
NODE = shutil.which("node")
TUS_JS = ROOT / "node_modules" / "tus-js-client"


class Sha256Uploader(Uploader):
    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)


@pytest.fixture
def live(start_server, factory):
    owner = factory.user()
    project = factory.project(owner)
    issue = factory.issue(project, owner)
    server = start_server()
    return server, issue, {"Authorization": f"Bearer {factory.token(owner)}"}


def attachment(server, headers, attachment_id):
    return requests.get(f"{server.url}/api/v1/attachments/{attachment_id}", headers=headers, timeout=10).json()


def download(server, headers, item):
    return requests.get(server.url + item["url"], headers=headers, timeout=30).content


def test_tuspy_uploads_in_chunks_with_sha256_checksums_and_resumes(live):
    server, issue, headers = live
    body = os.urandom(3 * 1024 * 1024 + 123)
    client = tus_client.TusClient(f"{server.url}/api/v1/uploads", headers=headers)
    metadata = {"filename": "data.bin", "issue_id": str(issue.id)}
    # A stream, not a path: tuspy opens a path again for each chunk and never closes it.
    first = Sha256Uploader(file_stream=io.BytesIO(body), client=client, chunk_size=1024 * 1024, metadata=metadata, upload_checksum=True)
    first.upload(stop_at=1024 * 1024)  # stopped after one chunk, as a client that went away
    assert first.offset == 1024 * 1024
    resumed = Sha256Uploader(file_stream=io.BytesIO(body), client=client, url=first.url, chunk_size=1024 * 1024, upload_checksum=True)
    assert resumed.offset == 1024 * 1024  # asked the server with HEAD
    resumed.upload()
    attachment_id = resumed.request.response_headers["beacon-attachment-id"]
    item = attachment(server, headers, attachment_id)
    assert item["sha256"] == hashlib.sha256(body).hexdigest()
    assert item["size"] == len(body)
    assert download(server, headers, item) == body


JS_UPLOAD = """
const tus = require('tus-js-client');
const [url, token, issueId, file, stopAfter, resumeUrl] = process.argv.slice(2);
const fs = require('fs');
const data = fs.readFileSync(file);
let attachmentId = null;
const upload = new tus.Upload(data, {
  endpoint: url, chunkSize: 256 * 1024, uploadUrl: resumeUrl || null,
  headers: {Authorization: 'Bearer ' + token},
  metadata: {filename: 'picture of the bug.png', issue_id: issueId},
  retryDelays: null,
  onAfterResponse: (req, res) => { attachmentId = res.getHeader('Beacon-Attachment-Id') || attachmentId; },
  onChunkComplete: (size, sent, total) => {
    if (stopAfter !== '0' && sent >= Number(stopAfter)) { upload.abort().then(() =>
      console.log(JSON.stringify({stopped: sent, url: upload.url}))); }
  },
  onError: (error) => { console.log(JSON.stringify({error: String(error)})); process.exit(1); },
  onSuccess: () => console.log(JSON.stringify({url: upload.url, attachment_id: attachmentId})),
});
upload.start();
"""


def run_node(script, *args):
    result = subprocess.run([NODE, script, *map(str, args)], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "NODE_PATH": str(ROOT / "node_modules")})
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(NODE is None or not TUS_JS.exists(), reason="needs node and npm's tus-js-client (make assets)")
def test_tus_js_client_uploads_an_image_and_resumes_an_interrupted_upload(live, tmp_path):
    from PIL import Image

    server, issue, headers = live
    path = tmp_path / "bug.png"
    Image.effect_noise((600, 400), 80).convert("RGB").save(path)  # noise: a PNG that does not compress
    body = path.read_bytes()
    assert len(body) > 512 * 1024
    script = tmp_path / "upload.js"
    script.write_text(JS_UPLOAD)
    token = headers["Authorization"].split()[1]
    stopped = run_node(script, f"{server.url}/api/v1/uploads", token, issue.id, path, 256 * 1024)
    assert stopped["stopped"] == 256 * 1024
    head = requests.head(stopped["url"], headers={**headers, **TUS}, timeout=10)
    assert head.headers["Upload-Offset"] == str(256 * 1024)
    done = run_node(script, f"{server.url}/api/v1/uploads", token, issue.id, path, 0, stopped["url"])
    assert done["url"] == stopped["url"]
    item = attachment(server, headers, done["attachment_id"])
    assert item["content_type"] == "image/png"
    assert item["filename"] == "picture of the bug.png"
    assert item["sha256"] == hashlib.sha256(body).hexdigest()
    assert download(server, headers, item) == body


def _start_patch(server, headers, location, offset, length, first_bytes):
    """A PATCH sent by hand over a socket: its headers and ``first_bytes`` of ``length``."""
    path = location.split(server.url, 1)[1]
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    lines = [f"PATCH {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", "Tus-Resumable: 1.0.0",
             f"Authorization: {headers['Authorization']}", "Content-Type: application/offset+octet-stream",
             f"Upload-Offset: {offset}", f"Content-Length: {length}", "Connection: close"]
    connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + first_bytes)
    return connection


def _create(server, headers, issue, length):
    response = requests.post(f"{server.url}/api/v1/uploads", timeout=10, headers={
        **headers, **TUS, "Upload-Length": str(length), "Upload-Metadata": f"filename ZC5iaW4=,issue_id {base64.b64encode(str(issue.id).encode()).decode()}"})
    assert response.status_code == 201
    return response.headers["Location"]


def _offset_becomes(server, headers, location, expected, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        offset = int(requests.head(location, headers={**headers, **TUS}, timeout=10).headers["Upload-Offset"])
        if offset == expected:
            return True
        time.sleep(0.1)
    return False


def test_two_patches_at_once_one_wins_the_other_is_409(live):
    server, issue, headers = live
    body = os.urandom(2 * 1024 * 1024)
    location = _create(server, headers, issue, len(body))
    slow = _start_patch(server, headers, location, 0, len(body), body[:1024 * 1024])
    _offset_becomes(server, headers, location, 0, timeout=1)
    time.sleep(0.5)  # the slow PATCH holds the upload
    second = requests.patch(location, data=body, timeout=10, headers={
        **headers, **TUS, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"})
    assert second.status_code == 409
    assert second.headers["Tus-Resumable"] == "1.0.0"
    slow.sendall(body[1024 * 1024:])
    answer = slow.recv(4096).decode()
    slow.close()
    assert answer.startswith("HTTP/1.1 204"), answer
    assert "Beacon-Attachment-Id" in answer
    assert _offset_becomes(server, headers, location, len(body))


def test_a_cut_connection_keeps_what_arrived_and_head_says_where_to_resume(live):
    server, issue, headers = live
    body = os.urandom(3 * 1024 * 1024)
    location = _create(server, headers, issue, len(body))
    cut_at = 1024 * 1024 + 4321
    connection = _start_patch(server, headers, location, 0, len(body), body[:cut_at])
    time.sleep(0.5)
    connection.close()
    assert _offset_becomes(server, headers, location, cut_at)
    rest = requests.patch(location, data=body[cut_at:], timeout=30, headers={
        **headers, **TUS, "Content-Type": "application/offset+octet-stream", "Upload-Offset": str(cut_at)})
    assert rest.status_code == 204
    item = attachment(server, headers, rest.headers["Beacon-Attachment-Id"])
    assert item["sha256"] == hashlib.sha256(body).hexdigest()  # the running hash survived the cut
    assert download(server, headers, item) == body
