"""Operations against real server processes: deactivation closes sockets, and the whole API
fuzzed by schemathesis from its own OpenAPI document."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.sockets import realtime, team  # noqa: F401

pytestmark = pytest.mark.backends("production")  # real servers: once, on the production database

ST = str(Path(sys.executable).with_name("st"))


def test_deactivating_a_user_closes_their_sockets_and_revokes_their_tokens(realtime, team, factory):
    server = realtime.server()
    token = factory.token(team["member"])
    tabs = [realtime.client(server, token=token), realtime.client(server, team["member"])]
    bystander = realtime.client(server, team["owner"])
    assert tabs[0].join("project:WEB")["ok"]
    admin = factory.admin()
    response = requests.patch(f"{server.url}/api/v1/admin/users/{team['member'].id}", json={"active": False},
                              headers=factory.headers(admin), timeout=10)
    assert response.status_code == 200 and response.json()["active"] is False
    for tab in tabs:
        assert tab.wait_for(lambda _ev, tab=tab: not tab.client.connected, timeout=5)
        assert tab.received("session.ended") == [{"reason": "deactivated"}]
    assert bystander.client.connected and bystander.received("session.ended") == []
    again = requests.get(f"{server.url}/api/v1/projects", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert again.status_code == 401


def test_schemathesis_finds_no_server_error_and_no_undocumented_response(start_server, factory, tmp_path):
    """Every operation of /api/v1/openapi.json, examples and fuzzed input, as an admin with data."""
    admin = factory.admin("Fuzz Admin")
    project = factory.project(admin, "WEB")
    issue = factory.issue(project, admin, labels=["bug"])
    factory.comment(issue, admin)
    server = start_server(RATE_LIMIT_API="100000/minute")
    report = tmp_path / "schemathesis.json"
    result = subprocess.run(
        [ST, "run", f"{server.url}/api/v1/openapi.json", "--header", f"Authorization: Bearer {factory.token(admin)}",
         "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                     "response_schema_conformance",
         "--max-examples", os.environ.get("SCHEMATHESIS_EXAMPLES", "15"), "--phases", "examples,coverage,fuzzing",
         "--exclude-path", "/api/v1/auth/tokens/current",  # signing out would end the run's own token
         "--seed", os.environ.get("SCHEMATHESIS_SEED", "7"), "--no-color", "--workers", "1", "--request-timeout", "20",
         "--generation-database", "none", "--report", "json", "--report-json-path", str(report)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"})
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-3000:]
    assert "Traceback" not in server.output()
