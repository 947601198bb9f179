"""No input is a 500: generated bodies, query strings and headers sent to every operation of
the OpenAPI document, as an admin with data, on both engines (hypothesis, in process).

Values lean to what broke things before: numbers at and beyond 32 and 64 bits, NUL and
lone surrogates, deep nesting, raw bytes that are not UTF-8, forged cursors, wrong types
in the right field names; and values each field allows, to get past validation into the
code behind it. ``FUZZ_EXAMPLES`` (default 25) sets the examples per operation; both
engines together take about a minute.
"""
import base64
import json
import os
import re
import time
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 25))
SKIPPED_HEADERS = {"content-length", "host", "transfer-encoding", "connection", "expect"}

NUMBERS = st.integers() | st.sampled_from([0, -1, 1, 2, 2**31 - 1, 2**31, 2**53, 2**63 - 1, 2**63, -2**63 - 1, 10**30])
TEXT = st.text(max_size=30) | st.sampled_from(["", " ", "\x00", "a\x00b", "WEB", "WEB-1", "open", "high", "atomic",
                                                "-priority", "é", "x" * 300, "%", "..", "../..", "NaN", "1e309"])
RAW_TEXT = TEXT | st.just("\ud800")  # only where the body is JSON text (escaped) or raw bytes
SCALARS = st.none() | st.booleans() | NUMBERS | st.floats() | RAW_TEXT
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(RAW_TEXT, inner, max_size=4),
                    max_leaves=10)


def _cursor(values):
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


CURSORS = st.lists(SCALARS | st.fixed_dictionaries({"dt": RAW_TEXT}), max_size=4).map(_cursor) | TEXT
HEADER_VALUES = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40) | st.sampled_from(
    ['"1"', 'W/"1"', "*", '"99999999999999999999999"', "no-cache", "application/json", "text/plain", "Bearer ",
     "application/json; charset=utf-16", "multipart/form-data; boundary=x", "1" * 300])
HEADER_NAMES = st.sampled_from(["If-Match", "Idempotency-Key", "Cache-Control", "Content-Type", "Accept", "X-Request-ID",
                                "Authorization", "Origin", "X-Forwarded-For"]) | st.from_regex(r"X-[A-Za-z]{1,12}",
                                                                                               fullmatch=True)


def _resolve(spec, schema):
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _valid(spec, schema, world):
    """Values a field's schema allows (enum, bounds, pattern, length), to get past validation
    into the code behind it; real ids and keys among them."""
    schema = _resolve(spec, schema)
    kind = schema.get("type")
    if schema.get("enum"):
        values = st.sampled_from(schema["enum"])
    elif kind == "integer":
        values = st.integers(schema.get("minimum"), schema.get("maximum")) | st.sampled_from(world["ids"])
    elif kind == "string" and schema.get("pattern"):
        values = st.from_regex(schema["pattern"]) | st.sampled_from(world["keys"])
    elif kind == "string" and schema.get("format") == "email":
        values = st.emails()
    elif kind == "string":
        size = min(schema.get("maxLength", 40), 40)
        values = st.text(min_size=schema.get("minLength", 0), max_size=size) | st.sampled_from(
            [key for key in world["keys"] if len(key) <= size])
    elif kind == "boolean":
        values = st.booleans()
    elif kind == "array":
        values = st.lists(_valid(spec, schema.get("items", {}), world), max_size=min(schema.get("maxItems", 3), 3))
    elif kind == "object" and "properties" in schema:
        fields = {name: _valid(spec, sub, world) for name, sub in schema["properties"].items()}
        required = {name: fields.pop(name) for name in schema.get("required", []) if name in fields}
        values = st.fixed_dictionaries(required, optional=fields)
    else:
        values = JSON
    return values | st.none() if schema.get("nullable") else values


def _value_for(spec, schema, world):
    """Values for one field: allowed ones, or anything at all."""
    return _valid(spec, schema, world) | JSON


def _object_for(spec, schema, world):
    """Objects with the schema's field names (the required ones mostly there, the others
    kept or not) and values of any kind, sometimes with a stranger."""
    fields = {name: _value_for(spec, sub, world) for name, sub in schema.get("properties", {}).items()}
    required = {name: fields.pop(name) for name in schema.get("required", []) if name in fields}
    shaped = st.fixed_dictionaries(required, optional=fields) | st.fixed_dictionaries({}, optional={**required,
                                                                                                       **fields})
    return st.tuples(shaped, st.dictionaries(RAW_TEXT, JSON, max_size=1) | st.just({})).map(
        lambda parts: {**parts[0], **parts[1]})


def _batch_operations(spec, world):
    """Operations of a batch: the kinds a batch takes with allowed data, or loosely shaped."""
    issue = {**spec["components"]["schemas"]["IssueInput"], "required": []}
    ids, lids = st.sampled_from(world["ids"]) | NUMBERS, st.sampled_from(["a", "b"]) | TEXT
    allowed = st.one_of(
        st.fixed_dictionaries({"op": st.just("create"), "resource": st.just("issue"), "data": _valid(spec, {
            **issue, "properties": {**issue["properties"], "project": {"type": "string", "pattern": "^[A-Z]{2,10}$"}},
            "required": ["project", "title"]}, world)}, optional={"lid": lids}),
        st.fixed_dictionaries({"op": st.just("create"), "resource": st.just("comment"), "data": st.fixed_dictionaries(
            {"body": st.text(min_size=1, max_size=20)}, optional={"issue_id": ids, "issue_lid": lids})}),
        st.fixed_dictionaries({"op": st.just("update"), "resource": st.just("issue"), "data": _valid(spec, issue, world)},
                              optional={"id": ids, "lid": lids, "if_version": NUMBERS}),
        st.fixed_dictionaries({"op": st.just("delete"), "resource": st.just("issue")}, optional={"id": ids, "lid": lids}))
    loose = _object_for(spec, {"properties": {
        "op": {"type": "string", "enum": ["create", "update", "delete"]},
        "resource": {"type": "string", "enum": ["issue", "comment", "project"]},
        "id": {"type": "integer"}, "lid": {"type": "string"}, "if_version": {"type": "integer"}, "data": issue}}, world)
    return st.lists(allowed | loose, min_size=1, max_size=4)


def _body(spec, operation, world):
    """Raw bytes of a body: allowed JSON, schema-shaped JSON with values of any kind, any JSON,
    or bytes that are hardly JSON."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    shaped = [JSON]
    if content:
        schema = _resolve(spec, content["schema"])
        if "operations" in schema.get("properties", {}):  # a batch: its operations are not in the document
            shaped.append(st.fixed_dictionaries({"mode": st.sampled_from(["atomic", "best_effort"]),
                                                 "operations": _batch_operations(spec, world)},
                                                optional={"dry_run": st.booleans()}))
        else:
            shaped.append(_valid(spec, schema, world))
        shaped.append(_object_for(spec, schema, world))
    # Allowed bodies two times in three (past validation, into the code behind it).
    as_json = st.one_of(shaped[1:2] * 3 + shaped).map(lambda value: json.dumps(value).encode())
    raw = st.binary(max_size=60) | st.sampled_from([b"[" * 5000, b'{"a":' * 100, b'{"title": "\xed\xa0\x80"}',
                                                    b'{"title": "\xff"}', b"\xef\xbb\xbf{}", b"", b"null", b"1e400"])
    return st.one_of(as_json, as_json.map(lambda data: data.replace(b"\\ud800", b"\xed\xa0\x80")), raw)


def _requests(spec, path, method, operation, world):
    parameters = operation.get("parameters", []) + spec["paths"][path].get("parameters", [])
    real = {"integer": st.sampled_from(world["ids"]), "string": st.sampled_from(world["keys"])}
    path_values = {p["name"]: real[p["schema"]["type"]] | real[p["schema"]["type"]] | _value_for(spec, p["schema"], world)
                   for p in parameters if p["in"] == "path"}
    query = {p["name"]: (CURSORS if p["name"] == "cursor" else _value_for(spec, p["schema"], world))
             for p in parameters if p["in"] == "query"}
    return st.fixed_dictionaries({
        "path": st.fixed_dictionaries(path_values),
        "query": st.fixed_dictionaries({}, optional=query),
        "extra_query": st.lists(st.tuples(TEXT, TEXT), max_size=2),
        "headers": st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=3),
        "body": _body(spec, operation, world) if method in ("post", "put", "patch") else st.just(b""),
        "json": st.booleans() | st.just(True),  # a JSON Content-Type three times in four
    })


def _quoted(value):
    """``value`` for a URL: as text, its UTF-8 bytes percent-encoded (a lone surrogate too)."""
    text = value if isinstance(value, str) else json.dumps(value)
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def _send(client, token, path, method, request):
    url = re.sub(r"\{(\w+)\}", lambda m: _quoted(request["path"][m.group(1)]), path)
    query = "&".join(f"{_quoted(name)}={_quoted(value)}"
                     for name, value in [*request["query"].items(), *request["extra_query"]])
    headers = {"Authorization": f"Bearer {token}"}
    if request["json"]:
        headers["Content-Type"] = "application/json"
    headers.update((name, value) for name, value in request["headers"].items() if name.lower() not in SKIPPED_HEADERS)
    return client.open(url, method=method.upper(), query_string=query, headers=headers, data=request["body"])


@pytest.fixture
def world(factory, client):
    """An admin with a project, members, issues, comments, a batch and a backup record to aim at."""
    admin = factory.admin()
    headers = factory.headers(admin)
    project = factory.project(admin, "WEB")
    other = factory.member(project, factory.user())
    issue = factory.issue(project, admin, title="first", labels=["bug"])
    comment = factory.comment(issue, admin)
    batch = client.post("/api/v1/batches", headers=headers, json={"mode": "atomic", "operations": [
        {"op": "update", "resource": "issue", "id": issue.id, "data": {"title": "t"}}]}).json
    backup = client.post("/api/v1/admin/backups", headers=headers, json={}).json["backup"]["id"]
    db.session.remove()
    return {"admin": admin, "ids": [admin.id, other.id, issue.id, comment.id, batch["id"], 1],
            "keys": ["WEB", "WEB-1", backup, "OTHER"]}


def test_no_generated_request_to_any_operation_is_a_server_error(make_app, factory, world):
    # An app of its own: the test's app context (the factory's) is not this app's, so each
    # request gets a fresh one, with its own ``g`` and session, as in a server.
    client = make_app().test_client()
    spec = client.get("/api/v1/openapi.json").json
    token = factory.token(world["admin"])
    operations = [(path, method, operation) for path, item in spec["paths"].items()
                  for method, operation in item.items() if method in ("get", "post", "put", "patch", "delete")]
    # What takes the data or the caller's rights away goes last: deletes, demoting or deactivating, signing out.
    operations.sort(key=lambda entry: (entry[1] == "delete", entry[:2] == ("/api/v1/admin/users/{user_id}", "patch"),
                                       entry[0] == "/api/v1/auth/tokens/current"))
    started, counts = time.monotonic(), {}
    for path, method, operation in operations:
        fresh_token = path == "/api/v1/auth/tokens/current"  # signing out ends the token it is sent with

        @settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.filter_too_much, HealthCheck.large_base_example])
        @given(request=_requests(spec, path, method, operation, world))
        def check(request):
            response = _send(client, factory.token(world["admin"]) if fresh_token else token, path, method, request)
            counts[response.status_code] = counts.get(response.status_code, 0) + 1
            assert response.status_code < 500, (method.upper(), path, request, response.get_data()[:300])

        check()
    print(f"fuzzed {len(operations)} operations in {time.monotonic() - started:.1f} s: {sorted(counts.items())}")
    assert len(operations) >= 50 and sum(counts.values()) >= len(operations) * EXAMPLES // 2
