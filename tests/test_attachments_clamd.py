"""The virus scan through a real clamd, with a signature built here (clamd's own signature
downloads are not reachable from this machine): an infected file's attachment is
``rejected`` and its bytes freed; a clean one becomes ``ready``; before the scan it is
``processing`` and its content is 409."""
import io
import shutil
import socket
import subprocess
import time

import pytest

from app.attachments.storage import storage
from tests.support.jobs import run_jobs
from tests.support.live import free_port

CLAMD = shutil.which("clamd") or "/usr/sbin/clamd"
MARKER = b"BEACON-TEST-VIRUS-SIGNATURE-7f3a"
pytestmark = pytest.mark.skipif(not shutil.which(CLAMD), reason="clamd is not installed (apt-get install clamav-daemon)")


@pytest.fixture(scope="module")
def clamd_address(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clamd")
    (folder / "db").mkdir()
    (folder / "db" / "beacon.ndb").write_text(f"Beacon.Test.Marker:0:*:{MARKER.hex()}\n")
    port = free_port()
    (folder / "clamd.conf").write_text(f"Foreground yes\nTCPSocket {port}\nTCPAddr 127.0.0.1\n"
                                       f"DatabaseDirectory {folder / 'db'}\nLogFile {folder / 'clamd.log'}\n")
    process = subprocess.Popen([CLAMD, "-c", str(folder / "clamd.conf")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


def test_clamd_rejects_an_infected_file_and_passes_a_clean_one(app, client, factory, clamd_address, monkeypatch):
    monkeypatch.setitem(app.config, "CLAMD_ADDRESS", clamd_address)
    owner = factory.user()
    issue = factory.issue(factory.project(owner), owner)
    headers = factory.headers(owner)

    def upload(body, name):
        response = client.post(f"/api/v1/issues/{issue.id}/attachments", headers=headers,
                               data={"file": (io.BytesIO(body), name)}, content_type="multipart/form-data")
        assert response.status_code == 201
        return response.get_json()

    infected = upload(b"notes " + MARKER + b" more notes", "notes.txt")
    clean = upload(b"nothing to see here", "clean.txt")
    assert infected["status"] == clean["status"] == "processing"
    with client.get(clean["url"], headers=headers) as response:
        assert response.status_code == 409
    run_jobs(app)
    infected = client.get(f"/api/v1/attachments/{infected['id']}", headers=headers).get_json()
    clean = client.get(f"/api/v1/attachments/{clean['id']}", headers=headers).get_json()
    assert infected["status"] == "rejected" and "Beacon.Test.Marker" in infected["reason"]
    assert not storage().has_blob(infected["sha256"])
    assert clean["status"] == "ready" and clean["preview"]["kind"] == "text"
    with client.get(clean["url"], headers=headers) as response:
        assert response.status_code == 200 and response.data == b"nothing to see here"
