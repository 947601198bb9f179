"""GraphQL against a real server process: the gql client (HTTP) and the GraphQL-over-HTTP
specification's own audit suite (graphql-http on npm, run by Node)."""
import json
import subprocess

import pytest
from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.requests import RequestsHTTPTransport

from tests.support.live import ROOT


@pytest.fixture
def live(app, factory, start_server):
    owner = factory.user("Owner")
    factory.project(owner, "WEB")
    return start_server(), factory.token(owner)


def client_for(server, token):
    transport = RequestsHTTPTransport(url=f"{server.url}/api/graphql", headers={"Authorization": f"Bearer {token}"})
    return Client(transport=transport, fetch_schema_from_transport=True)


def test_the_gql_client_queries_and_mutates(live):
    server, token = live
    with client_for(server, token) as session:
        made = session.execute(GraphQLRequest(
            'mutation($t: String!) { createIssue(project: "WEB", title: $t) { key status } }',
            variable_values={"t": "From gql"}))
        assert made == {"createIssue": {"key": "WEB-1", "status": "OPEN"}}
        found = session.execute(gql('{ issues(project: "WEB") { totalCount nodes { title reporter { name } } } }'))
        assert found["issues"] == {"totalCount": 1, "nodes": [{"title": "From gql", "reporter": {"name": "Owner"}}]}
        with pytest.raises(TransportQueryError) as refused:
            session.execute(gql('mutation { createIssue(project: "WEB", title: "") { key } }'))
        assert refused.value.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_every_must_of_the_graphql_over_http_audit_passes(live):
    server, token = live
    done = subprocess.run(["node", "tests/support/node/graphql_http_audit.mjs", f"{server.url}/api/graphql", token],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    failed = [r for r in results if r["name"].startswith("MUST") and r["status"] != "ok"]
    assert results and not failed, json.dumps(failed, indent=1)
    print("SHOULD/MAY not ok:", json.dumps([(r["name"], r["reason"]) for r in results if r["status"] != "ok"], indent=1))
