"""GraphQL queries (CONTRACT section 12): what REST shows, hidden where REST hides it, in
a number of SQL statements that does not grow with the number of items."""
import pytest
from sqlalchemy import event

GRAPHQL = "/api/graphql"
GRAPHQL_RESPONSE = "application/graphql-response+json"


def gql(client, headers, query, variables=None, **extra):
    body = {"query": query, **({"variables": variables} if variables is not None else {}), **extra}
    return client.post(GRAPHQL, json=body, headers={**headers, "Accept": GRAPHQL_RESPONSE})


def data(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert "errors" not in body, body["errors"]
    return body["data"]


@pytest.fixture
def board(factory):
    """A project WEB with a maintainer, a member, issues and comments."""
    owner = factory.user("Owner")
    project = factory.project(owner, "WEB")
    member = factory.member(project, factory.user("Member"))
    return {"owner": owner, "project": project, "member": member, "headers": factory.headers(owner)}


def test_viewer_is_the_caller_with_their_email(client, factory, board):
    viewer = data(gql(client, board["headers"], "{ viewer { id name email isAdmin } }"))["viewer"]
    assert viewer == {"id": str(board["owner"].id), "name": "Owner", "email": board["owner"].email,
                      "isAdmin": False}


def test_no_or_bad_token_is_401_for_the_whole_request(client, board):
    assert client.post(GRAPHQL, json={"query": "{ viewer { id } }"}).status_code == 401
    response = gql(client, {"Authorization": "Bearer nope"}, "{ viewer { id } }")
    assert response.status_code == 401


def test_issues_read_as_rest_lists_them(client, factory, board):
    for title in ("First", "Second"):
        factory.issue(board["project"], board["owner"], title=title, labels=["ui"], assignee_id=board["member"].id)
    rest = client.get("/api/v1/projects/WEB/issues", headers=board["headers"]).get_json()["items"]
    found = data(gql(client, board["headers"], """{ issues(project: "WEB") { totalCount nodes {
        id key number title status priority labels createdAt version
        assignee { id name email } reporter { id } project { key viewerRole } } } }"""))["issues"]
    assert found["totalCount"] == 2
    assert [n["id"] for n in found["nodes"]] == [str(i["id"]) for i in rest]
    first = found["nodes"][0]
    assert first["key"] == rest[0]["key"] and first["createdAt"] == rest[0]["created_at"]
    assert first["status"] == "OPEN" and first["priority"] == "MEDIUM" and first["labels"] == ["ui"]
    assert first["assignee"] == {"id": str(board["member"].id), "name": "Member", "email": None}
    assert first["project"] == {"key": "WEB", "viewerRole": "MAINTAINER"}


def test_another_projects_issue_is_not_found(client, factory, board):
    other = factory.user()
    issue = factory.issue(factory.project(other, "OPS"), other)
    body = gql(client, board["headers"], "query($id: ID) { issue(id: $id) { id title } }", {"id": str(issue.id)})
    assert body.status_code == 200
    assert body.get_json()["data"] == {"issue": None}
    assert body.get_json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    body = gql(client, board["headers"], '{ issues(project: "OPS") { nodes { id } } }').get_json()
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_pages_follow_cursors(client, factory, board):
    for n in range(5):
        factory.issue(board["project"], board["owner"], title=f"Issue {n}")
    query = """query($after: String) { issues(project: "WEB", first: 2, after: $after, orderBy: "created_at") {
        edges { cursor node { title } } pageInfo { hasNextPage endCursor } } }"""
    titles, after = [], None
    while True:
        page = data(gql(client, board["headers"], query, {"after": after}))["issues"]
        titles += [edge["node"]["title"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert titles == [f"Issue {n}" for n in range(5)]


@pytest.mark.parametrize("first", [0, 101])
def test_first_is_1_to_100(client, board, first):
    body = gql(client, board["headers"], '{ issues(project: "WEB", first: %d) { nodes { id } } }' % first).get_json()
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "errors": {"first": ["Must be between 1 and 100."]}}


BOARD = """query($first: Int) { issues(project: "WEB", first: $first) { nodes {
    assignee { name } reporter { name } project { key }
    comments(first: 5) { totalCount nodes { body author { name } } } } } }"""


def count_statements(app, run):
    from app.extensions import db

    statements = []

    def listener(_connection, _cursor, statement, *_args):
        if not statement.startswith(("BEGIN", "SAVEPOINT", "RELEASE", "COMMIT", "ROLLBACK")):  # the test's session
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return statements


def test_statements_do_not_grow_with_the_items(app, client, factory, board):
    """CONTRACT 12: the board query at first: 100 runs as many statements as at first: 10."""
    people = [factory.member(board["project"], factory.user()) for _ in range(4)]
    for n in range(100):
        issue = factory.issue(board["project"], people[n % 4], title=f"Issue {n}", assignee_id=people[(n + 1) % 4].id)
        for c in range(n % 3):
            factory.comment(issue, people[c], f"Comment {c}")
    counts = {}
    for first in (10, 100):
        response = []
        statements = count_statements(app, lambda: response.append(gql(client, board["headers"], BOARD, {"first": first})))
        nodes = data(response[0])["issues"]["nodes"]
        assert len(nodes) == first and nodes[-1]["reporter"]["name"]
        counts[first] = len(statements)
    assert counts[100] == counts[10] <= 8, counts


def test_batches_are_the_submitters_and_admins(client, factory, board):
    from app.extensions import db
    from app.models import Batch

    batch = Batch(user_id=board["owner"].id, mode="best_effort", operations=[], total=3)
    db.session.add(batch)
    db.session.commit()
    query = "query($id: ID!) { batch(id: $id) { id mode status total dryRun } batches { totalCount nodes { id } } }"
    mine = data(gql(client, board["headers"], query, {"id": str(batch.id)}))
    assert mine["batch"] == {"id": str(batch.id), "mode": "BEST_EFFORT", "status": "QUEUED", "total": 3, "dryRun": False}
    assert mine["batches"] == {"totalCount": 1, "nodes": [{"id": str(batch.id)}]}
    theirs = gql(client, factory.headers(board["member"]), query, {"id": str(batch.id)}).get_json()
    assert theirs["data"] is None or theirs["data"]["batch"] is None
    assert theirs["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_search_as_rest_in_readable_projects_only(client, factory, board):
    factory.issue(board["project"], board["owner"], title="Needle in WEB")
    other = factory.user()
    factory.issue(factory.project(other, "OPS"), other, title="Needle in OPS")
    query = 'query($t: [SearchType!]) { search(q: "needle", types: $t) { totalCount nodes { type project title } } }'
    found = data(gql(client, board["headers"], query, {"t": ["ISSUE"]}))["search"]
    assert found == {"totalCount": None, "nodes": [{"type": "ISSUE", "project": "WEB", "title": "WEB-1: Needle in WEB"}]}
    rest = client.get("/api/v1/search", query_string={"q": "needle", "types": "issue"}, headers=board["headers"])
    assert [hit["title"] for hit in rest.get_json()["items"]] == ["WEB-1: Needle in WEB"]
