"""Live notifications: the ``notification`` Socket.IO event reaches the user's own sockets
on every server process within 1 s of the commit, from a web process or from a worker
(real servers linked by Redis, real clients over real sockets)."""
import os
import subprocess
import sys
import time

import pytest
import requests

from tests.support.live import ROOT
from tests.support.sockets import realtime, team  # noqa: F401

pytestmark = pytest.mark.backends("production")  # real servers: once, on the production database


def notifications(client):
    """Every notification a client received, singly or bundled, in arrival order."""
    found = []
    for name, data in list(client.events):
        if name == "notification":
            found.append(data)
        elif name == "notifications.bulk":
            found += data["notifications"]
    return found


def test_an_assignment_reaches_the_assignee_s_sockets_on_every_process_within_1_s(realtime, team, factory):
    a, b = realtime.server(), realtime.server()
    mine = [realtime.client(a, team["member"]), realtime.client(b, team["member"])]
    theirs = realtime.client(b, team["owner"])
    response = requests.post(f"{a.url}/api/v1/projects/WEB/issues", headers=factory.headers(team["owner"]),
                             json={"title": "Yours", "assignee_id": team["member"].id})
    assert response.status_code == 201, response.text
    committed = time.monotonic()
    for client in mine:
        assert client.wait_for(lambda ev: notifications(client), timeout=1.0), "no notification within 1 s"
    assert time.monotonic() - committed < 1.0
    [note] = notifications(mine[0])
    assert (note["type"], note["issue_id"], note["actor_id"], note["read_at"]) == (
        "assigned", response.json()["id"], team["owner"].id, None)
    stored = requests.get(f"{b.url}/api/v1/notifications", headers=factory.headers(team["member"])).json()
    assert stored["items"] == [note]
    time.sleep(0.3)
    assert notifications(theirs) == []  # the actor gets nothing


def test_a_batch_run_by_a_worker_process_reaches_the_socket_bundled(realtime, team, factory, redis_url,
                                                                    database_url, app):
    a = realtime.server()
    mine, theirs = realtime.client(a, team["member"]), realtime.client(a, team["outsider"])
    operations = [{"op": "create", "resource": "issue", "data": {"project": "WEB", "title": f"Issue {i}",
                                                                  "assignee_id": team["member"].id}}
                  for i in range(25)]
    response = requests.post(f"{a.url}/api/v1/batches", headers=factory.headers(team["owner"]),
                             json={"mode": "atomic", "operations": operations})
    assert response.status_code == 202, response.text
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "worker", "--burst", "--no-scheduler"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "REDIS_URL": redis_url,
                                 "SOCKETIO_CHANNEL": os.environ["SOCKETIO_CHANNEL"],
                                 "DATABASE_URL": database_url, "BEACON_INSTANCE_PATH": app.instance_path})
    assert result.returncode == 0, result.stderr[-2000:]
    assert mine.wait_for(lambda ev: len(notifications(mine)) == 25, timeout=5)
    assert [name for name, _data in mine.events if name.startswith("notification")] == ["notifications.bulk"]
    assert {n["type"] for n in notifications(mine)} == {"assigned"}
    assert notifications(theirs) == []
