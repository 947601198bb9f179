"""GraphQL mutations go through the REST services: same rules, messages, events and audit."""
import pytest

from tests.conftest import scalar
from tests.test_graphql import GRAPHQL, GRAPHQL_RESPONSE, board, data, gql  # noqa: F401 (board is a fixture)

CREATE = """mutation($title: String!, $assigneeId: ID, $labels: [String!]) {
    createIssue(project: "WEB", title: $title, assigneeId: $assigneeId, labels: $labels, priority: HIGH) {
        id key title priority labels assignee { id } version } }"""


def feed(client, headers):
    return client.get("/api/v1/projects/WEB/events", headers=headers).get_json()["items"]


def test_create_issue_is_indistinguishable_from_rest(client, board):
    headers = board["headers"]
    made = data(gql(client, headers, CREATE, {"title": " Via GraphQL ", "labels": ["b", "a"],
                                              "assigneeId": str(board["member"].id)}))["createIssue"]
    rest = client.post("/api/v1/projects/WEB/issues", headers=headers, json={
        "title": "Via REST", "labels": ["b", "a"], "assignee_id": board["member"].id, "priority": "high"}).get_json()
    assert made["key"] == "WEB-1" and rest["key"] == "WEB-2"
    assert made["title"] == "Via GraphQL" and made["labels"] == ["a", "b"] and made["priority"] == "HIGH"
    events = [e for e in feed(client, headers) if e["type"] == "issue.created"]
    first, second = (e["data"]["issue"] for e in events)
    assert {k: v for k, v in first.items() if k not in ("id", "key", "number", "title", "created_at", "updated_at")} \
        == {k: v for k, v in second.items() if k not in ("id", "key", "number", "title", "created_at", "updated_at")}
    assert events[0]["actor_id"] == events[1]["actor_id"] == board["owner"].id


def test_validation_messages_are_rest_messages_by_field(client, board):
    body = gql(client, board["headers"], CREATE, {"title": "x" * 201, "labels": [""]}).get_json()
    rest = client.post("/api/v1/projects/WEB/issues", headers=board["headers"],
                       json={"title": "x" * 201, "labels": [""]}).get_json()
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["errors"] == rest["errors"]  # title, labels/0: same names, same messages
    body = gql(client, board["headers"], CREATE, {"title": "T", "assigneeId": "abc"}).get_json()
    assert body["errors"][0]["extensions"]["errors"] == {"assigneeId": ["Not a valid integer."]}
    assert scalar("SELECT count(*) FROM issues") == 0


def test_a_non_member_assignee_is_refused_and_nothing_is_written(client, factory, board):
    stranger = factory.user()
    body = gql(client, board["headers"], CREATE, {"title": "T", "assigneeId": str(stranger.id)}).get_json()
    assert body["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT", "errors": {"assigneeId": ["The assignee must be a member of the project."]}}
    assert scalar("SELECT count(*) FROM issues") == 0
    assert scalar("SELECT count(*) FROM events WHERE type = 'issue.created'") == 0


def test_variables_of_the_wrong_type_are_bad_user_input(client, board):
    response = gql(client, board["headers"], CREATE, {"title": 5})
    assert response.status_code == 400
    body = response.get_json()
    assert "data" not in body and body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


UPDATE = """mutation($id: ID!, $v: Int, $status: IssueStatus) {
    updateIssue(id: $id, expectedVersion: $v, status: $status) { status version resolvedAt } }"""


def test_expected_version_is_if_match(client, factory, board):
    issue = factory.issue(board["project"], board["owner"])
    done = data(gql(client, board["headers"], UPDATE, {"id": str(issue.id), "v": 1, "status": "RESOLVED"}))
    assert done["updateIssue"]["status"] == "RESOLVED" and done["updateIssue"]["version"] == 2
    body = gql(client, board["headers"], UPDATE, {"id": str(issue.id), "v": 1, "status": "OPEN"}).get_json()
    assert body["errors"][0]["extensions"]["code"] == "PRECONDITION_FAILED"
    assert scalar("SELECT status FROM issues") == "resolved"


@pytest.mark.parametrize("role, create, delete", [
    ("viewer", "FORBIDDEN", "FORBIDDEN"), ("member", None, "FORBIDDEN"), ("maintainer", None, None),
    ("none", "NOT_FOUND", "NOT_FOUND"), ("admin", None, None)])
def test_roles_as_rest(client, factory, board, role, create, delete):
    headers = factory.role_headers(board["project"], role)
    issue = factory.issue(board["project"], board["owner"])
    body = gql(client, headers, CREATE, {"title": "T"}).get_json()
    assert (body.get("errors") or [{"extensions": {"code": None}}])[0]["extensions"]["code"] == create
    body = gql(client, headers, "mutation($id: ID!) { deleteIssue(id: $id) }", {"id": str(issue.id)}).get_json()
    assert (body.get("errors") or [{"extensions": {"code": None}}])[0]["extensions"]["code"] == delete
    assert (body["data"] or {}).get("deleteIssue") is (None if delete else True)


def test_comments_and_their_rules(client, factory, board):
    issue = factory.issue(board["project"], board["owner"])
    member_headers = factory.headers(board["member"])
    made = data(gql(client, member_headers, """mutation($id: ID!) { createComment(issueId: $id, body: "Hi") {
        id body author { name } issue { key } } }""", {"id": str(issue.id)}))["createComment"]
    assert made["author"] == {"name": "Member"} and made["issue"] == {"key": "WEB-1"}
    blank = gql(client, member_headers, """mutation($id: ID!) { updateComment(id: $id, body: "  ") { id } }""",
                {"id": made["id"]}).get_json()
    assert blank["errors"][0]["extensions"]["errors"] == {"body": ["A comment cannot be blank."]}
    other = factory.member(board["project"], factory.user())
    body = gql(client, factory.headers(other), "mutation($id: ID!) { deleteComment(id: $id) }",
               {"id": made["id"]}).get_json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert data(gql(client, member_headers, "mutation($id: ID!) { deleteComment(id: $id) }",
                    {"id": made["id"]}))["deleteComment"] is True
    assert [e["type"] for e in feed(client, board["headers"])][-2:] == ["comment.created", "comment.deleted"]


def test_projects_and_members_with_audit(client, factory, board):
    made = data(gql(client, board["headers"], 'mutation { createProject(key: "OPS", name: "Ops") { key viewerRole } }'))
    assert made["createProject"] == {"key": "OPS", "viewerRole": "MAINTAINER"}
    dup = gql(client, board["headers"], 'mutation { createProject(key: "OPS", name: "Ops") { key } }').get_json()
    assert dup["errors"][0]["extensions"]["code"] == "CONFLICT"
    bad = gql(client, board["headers"], 'mutation { createProject(key: "ops", name: "") { key } }').get_json()
    assert set(bad["errors"][0]["extensions"]["errors"]) == {"key", "name"}
    added = data(gql(client, board["headers"], 'mutation($u: ID!) { setMember(project: "OPS", userId: $u, role: VIEWER) '
                                               '{ role user { id email } } }', {"u": str(board["member"].id)}))
    assert added["setMember"] == {"role": "VIEWER", "user": {"id": str(board["member"].id), "email": None}}
    assert scalar("SELECT count(*) FROM audit_log WHERE action = 'member.added'") == 1
    last = gql(client, board["headers"], 'mutation($u: ID!) { removeMember(project: "OPS", userId: $u) }',
               {"u": str(board["owner"].id)}).get_json()
    assert last["errors"][0]["extensions"]["errors"] == {"role": ["A project keeps at least one maintainer."]}


def test_a_mutation_over_get_is_405(client, board):
    response = client.get(GRAPHQL, query_string={"query": 'mutation { deleteProject(key: "WEB") }'},
                          headers=board["headers"])
    assert response.status_code == 405 and response.headers["Allow"] == "POST"
    assert scalar("SELECT count(*) FROM projects") == 1


USERS = """mutation($email: String!) { createUser(email: $email, name: "New", password: "long enough password") {
    id email isAdmin } }"""


def test_admins_create_and_deactivate_users_with_audit(client, factory, board):
    admin = factory.headers(factory.admin())
    refused = gql(client, board["headers"], USERS, {"email": "new@example.test"}).get_json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    made = data(gql(client, admin, USERS, {"email": "New@Example.test"}))["createUser"]
    assert made["email"] == "new@example.test" and made["isAdmin"] is False
    dup = gql(client, admin, USERS, {"email": "new@example.test"}).get_json()
    assert dup["errors"][0]["extensions"]["code"] == "CONFLICT"
    changed = data(gql(client, admin, 'mutation($id: ID!) { updateUser(id: $id, expectedVersion: 1, active: false) '
                                      '{ id } }', {"id": made["id"]}))
    assert changed["updateUser"] == {"id": made["id"]}
    assert scalar("SELECT count(*) FROM audit_log WHERE action IN ('user.created', 'user.deactivated')") == 2


@pytest.mark.parametrize("document, variables", [
    ('mutation { createIssue(project: "WEB", title: "a\\u0000b") { id } }', None),
    ('mutation { createIssue(project: "WEB", title: "a\\ud800b") { id } }', None),
    ('{ project(key: "W\\u0000B") { key } }', None),
    ('mutation($t: String!) { createIssue(project: "WEB", title: $t) { id } }', {"t": "a\u0000b"}),
])
def test_unstorable_characters_inside_a_document_are_bad_user_input(client, board, document, variables):
    """A GraphQL string can carry a NUL or a lone surrogate as an escape that JSON does not see."""
    body = gql(client, board["headers"], document, variables)
    if variables is None:
        assert body.status_code == 400, body.get_data(as_text=True)
        assert body.get_json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    else:  # JSON's escape: refused with every other body that has one (422 problem+json)
        assert body.status_code == 422
        response = client.get(GRAPHQL, query_string={"query": document, "variables": '{"t": "a\\u0000b"}'},
                              headers={**board["headers"], "Accept": GRAPHQL_RESPONSE})  # GET: GraphQL checks them
        assert response.status_code == 400 and response.get_json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert scalar("SELECT count(*) FROM issues") == 0


SUBMIT = """mutation($ops: JSON!, $key: String) { submitBatch(mode: BEST_EFFORT, operations: $ops, idempotencyKey: $key) {
    id status total } }"""


def test_submit_and_cancel_a_batch_as_rest(client, board):
    ops = [{"op": "create", "resource": "issue", "data": {"project": "WEB", "title": f"B{n}"}} for n in range(3)]
    made = data(gql(client, board["headers"], SUBMIT, {"ops": ops, "key": "k-1"}))["submitBatch"]
    assert made["status"] == "QUEUED" and made["total"] == 3
    again = data(gql(client, board["headers"], SUBMIT, {"ops": ops, "key": "k-1"}))["submitBatch"]
    assert again["id"] == made["id"]  # the Idempotency-Key's batch
    bad = gql(client, board["headers"], SUBMIT, {"ops": [{"op": "explode"}]}).get_json()
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" and bad["errors"][0]["extensions"]["errors"]
    cancelled = data(gql(client, board["headers"], 'mutation($id: ID!) { cancelBatch(id: $id) { status } }',
                         {"id": made["id"]}))
    assert cancelled["cancelBatch"]["status"] in ("CANCELLED", "QUEUED")
    assert scalar("SELECT count(*) FROM batches") == 1
