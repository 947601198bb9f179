"""GraphQL limits before execution, cost and points, persisted queries, and the HTTP rules."""
import hashlib
import json
import uuid

import pytest

from tests.test_graphql import GRAPHQL, GRAPHQL_RESPONSE, board, data, gql  # noqa: F401 (board is a fixture)


def code(response):
    return response.get_json()["errors"][0]["extensions"]["code"]


def test_depth_over_the_limit_is_refused_before_running(client, board):
    response = gql(client, board["headers"], '{ project(key: "WEB") { issues { nodes { project { issues { nodes '
                   '{ project { issues { nodes { project { issues { nodes { project { key } } } } } } } } } } } } } }')
    assert response.status_code == 400 and code(response) == "QUERY_TOO_COMPLEX"
    assert "14 levels deep" in response.get_json()["errors"][0]["message"]


def test_a_64_level_or_1_mb_document_is_refused(client, board):
    deep = "{ viewer " + "{ id " * 64 + "}" * 65
    response = gql(client, board["headers"], deep)
    assert response.status_code == 400 and code(response) == "QUERY_TOO_COMPLEX"
    huge = "{ viewer { id } }" + " " * 1_000_000
    response = gql(client, board["headers"], huge)
    assert response.status_code == 400 and "errors" in response.get_json()


def test_aliases_over_30_are_refused(client, board):
    query = "{ %s }" % " ".join(f"a{n}: viewer {{ id }}" for n in range(31))
    response = gql(client, board["headers"], query)
    assert response.status_code == 400 and code(response) == "QUERY_TOO_COMPLEX"
    assert data(gql(client, board["headers"], "{ %s }" % " ".join(f"a{n}: viewer {{ id }}" for n in range(30))))


def test_nodes_over_50000_are_refused(client, board):
    query = "{ projects(first: 100) { nodes { issues(first: 100) { nodes { comments(first: 100) { nodes { id } } } } } } }"
    response = gql(client, board["headers"], query)
    assert response.status_code == 400 and code(response) == "QUERY_TOO_COMPLEX"
    assert "1010100 nodes" in response.get_json()["errors"][0]["message"]


def test_cost_is_reported_as_github_counts_it(client, board):
    query = "{ projects(first: 100) { nodes { issues(first: 5) { nodes { comments(first: 5) { nodes { id } } } } } } }"
    body = gql(client, board["headers"], query).get_json()
    cost = body["extensions"]["cost"]
    assert cost["requested"] == 6 and cost["limit"] == 5000  # 1 + 100 + 500 connections / 100
    assert cost["remaining"] == 5000 - 6 and cost["reset_at"].endswith("Z")
    assert gql(client, board["headers"], "{ viewer { id } }").get_json()["extensions"]["cost"]["requested"] == 1


def test_points_per_hour_then_429(make_app, factory):
    app = make_app(GRAPHQL_POINTS_PER_HOUR=3)
    client = app.test_client()
    with app.app_context():
        headers = factory.headers(factory.user())
    for _ in range(3):
        assert client.post(GRAPHQL, json={"query": "{ viewer { id } }"}, headers=headers).status_code == 200
    response = client.post(GRAPHQL, json={"query": "{ viewer { id } }"}, headers=headers)
    assert response.status_code == 429 and code(response) == "RATE_LIMITED"


def test_the_rest_rate_limit_counts_graphql(make_app, factory):
    app = make_app(RATE_LIMIT_API="2/minute")
    client = app.test_client()
    with app.app_context():
        headers = factory.headers(factory.user())
    for _ in range(2):
        assert client.post(GRAPHQL, json={"query": "{ viewer { id } }"}, headers=headers).status_code == 200
    assert client.get("/api/v1/projects", headers=headers).status_code == 429


def test_automatic_persisted_queries(client, board):
    query = "{ viewer { name } } # %s" % uuid.uuid4()  # the store outlives a test (fakeredis is per process)
    sha = hashlib.sha256(query.encode()).hexdigest()
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": sha}}
    response = client.post(GRAPHQL, json={"extensions": persisted}, headers=board["headers"])
    assert response.status_code == 200 and code(response) == "PERSISTED_QUERY_NOT_FOUND"
    wrong = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    response = gql(client, board["headers"], query, extensions=wrong)
    assert response.status_code == 400
    assert data(gql(client, board["headers"], query, extensions=persisted)) == {"viewer": {"name": "Owner"}}
    response = client.get(GRAPHQL, query_string={"extensions": json.dumps(persisted)}, headers=board["headers"])
    assert response.status_code == 200 and response.get_json()["data"] == {"viewer": {"name": "Owner"}}


@pytest.mark.parametrize("accept, status", [(GRAPHQL_RESPONSE, 400), ("application/json", 200)])
def test_a_document_that_does_not_validate(client, board, accept, status):
    for query in ("{ viewer { ", "{ viewer { nope } }"):
        response = client.post(GRAPHQL, json={"query": query}, headers={**board["headers"], "Accept": accept})
        assert response.status_code == status and response.mimetype == accept
        assert "data" not in response.get_json() and response.get_json()["errors"]


def test_get_runs_queries_with_variables(client, board):
    response = client.get(GRAPHQL, query_string={"query": "query($k: String!) { project(key: $k) { name } }",
                                                 "variables": json.dumps({"k": "WEB"})}, headers=board["headers"])
    assert response.get_json()["data"] == {"project": {"name": "Project WEB"}}


@pytest.mark.parametrize("body", [[1], {"query": 5}, {"query": "{ viewer { id } }", "variables": [1]}])
def test_malformed_requests_are_400(client, board, body):
    assert client.post(GRAPHQL, json=body, headers=board["headers"]).status_code == 400


def test_sdl_and_introspection(client, board):
    sdl = client.get("/api/graphql/schema.graphql").get_data(as_text=True)
    assert "type Issue {" in sdl and "createIssue(" in sdl
    body = data(gql(client, board["headers"], '{ __type(name: "Issue") { fields { name } } }'))
    assert "assignee" in [field["name"] for field in body["__type"]["fields"]]


@pytest.mark.parametrize("query, code_expected", [
    ('{ issues(project: "WEB", after: "garbage") { nodes { id } } }', "BAD_USER_INPUT"),
    ('{ issues(project: "WEB", orderBy: "title") { nodes { id } } }', "BAD_USER_INPUT"),
    ('{ issues(project: "WEB", filter: {label: "%s"}) { nodes { id } } }' % ("x" * 51), "BAD_USER_INPUT"),
    ('{ issues(project: "WEB", filter: {assigneeId: "x"}) { nodes { id } } }', "BAD_USER_INPUT"),
    ('{ issue(id: "99999999999999999999") { id } }', "NOT_FOUND"),
    ('{ issue(id: "-1") { id } }', "NOT_FOUND"),
    ('{ issue(key: "WEB-99999999999999") { id } }', "NOT_FOUND"),
    ('{ issue(key: "%s") { id } }' % ("A" * 5000), "NOT_FOUND"),
    ('{ project(key: "NOPE") { key } }', "NOT_FOUND"),
    ('{ projects(first: 100, after: "W10") { nodes { key } } }', "BAD_USER_INPUT"),
    ('{ users { nodes { id } } }', "FORBIDDEN"),
    ('mutation { updateIssue(id: "12", expectedVersion: 1, title: "x") { id } }', "NOT_FOUND"),
])
def test_bad_arguments_are_errors_never_a_500(client, board, query, code_expected):
    response = gql(client, board["headers"], query)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert code(response) == code_expected


@pytest.mark.parametrize("query", ['{ issues(project: "WEB", first: 2147483648) { nodes { id } } }',
                                   '{ issue(id: 1.5) { id } }', "{ viewer { id } } extra"])
def test_values_the_schema_refuses_are_400(client, board, query):
    response = gql(client, board["headers"], query)
    assert response.status_code == 400 and code(response) == "BAD_USER_INPUT"
