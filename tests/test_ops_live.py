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
    """Every operation of /api/v1/openapi.json: examples, coverage, fuzzed input, and stateful
    sequences along the links schemathesis infers (a created project's key into its issues,
    an issue's id into its comments...), as an admin with data. Bounded by
    ``SCHEMATHESIS_MAX_TIME`` (seconds, default 75): fuzzing and the stateful phase share
    what is left of it once the examples and the coverage phase have run."""
    admin = factory.admin("Fuzz Admin")
    project = factory.project(admin, "WEB")
    issue = factory.issue(project, admin, labels=["bug"])
    factory.comment(issue, admin)
    server = start_server(RATE_LIMIT_API="100000/minute")
    token = factory.token(admin)
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f'headers = {{ Authorization = "Bearer {token}" }}\n\n'
        "[[operations]]  # signing out ends the token it is sent with: that operation has a token of its own\n"
        'include-path = "/api/v1/auth/tokens/current"\n'
        f'headers = {{ Authorization = "Bearer {factory.token(admin)}" }}\n')
    report = tmp_path / "schemathesis.json"
    result = subprocess.run(
        [ST, "--config-file", str(config), "run", f"{server.url}/api/v1/openapi.json",
         "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                     "response_schema_conformance",
         "--max-examples", os.environ.get("SCHEMATHESIS_EXAMPLES", "15"),
         "--phases", "examples,coverage,fuzzing,stateful",
         "--max-time", os.environ.get("SCHEMATHESIS_MAX_TIME", "75"),
         "--seed", os.environ.get("SCHEMATHESIS_SEED", "7"), "--no-color", "--workers", "1", "--request-timeout", "20",
         "--generation-database", "none", "--report", "json", "--report-json-path", str(report)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"})
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-3000:]
    document = requests.get(f"{server.url}/api/v1/openapi.json", timeout=10).json()
    operations = sum(1 for path in document["paths"].values() for method in path
                     if method in {"get", "put", "post", "patch", "delete", "head", "options"})
    assert f"Operations:       {operations} selected / {operations} total" in result.stdout, result.stdout[-5000:]
    assert "Stateful (in" in result.stdout and "API Links:" in result.stdout, result.stdout[-5000:]
    assert "Traceback" not in server.output()
    # The run's own token outlived it: signing out was sent with the other one.
    assert requests.get(f"{server.url}/api/v1/projects", headers={"Authorization": f"Bearer {token}"},
                        timeout=10).status_code == 200
