"""Run one GraphQL operation for a signed-in user: the document (by text, or by hash for a
persisted query), its limits and cost, the caller's points, then execution. HTTP and
WebSocket callers share it; how an outcome becomes a response is theirs."""
import functools
from datetime import datetime, timezone

from flask import current_app
from graphql import GraphQLError, OperationType, execute, parse, validate
from graphql.execution.values import get_variable_values
from graphql.utilities import get_operation_ast

from ..errors import Problem, unstorable
from ..models.base import isoformat
from ..ops import limits
from . import guard, persisted
from .batching import Batches, never_awaitable
from .problems import format_error, from_problem, request_error
from .schema import schema

POINTS_SCOPE = "graphql-points"


class Context:
    """What resolvers see as ``info.context``: the caller and the request's batches."""

    def __init__(self, user):
        self.user = user
        self.batches = Batches()


class Refused(Exception):
    """The operation did not run: ``errors`` (formatted), and the HTTP status that says why."""

    def __init__(self, errors, status=400):
        super().__init__(errors[0]["message"])
        self.errors = errors
        self.status = status


class MutationOverGet(Exception):
    """A mutation arrived by GET (HTTP answers 405)."""


@functools.lru_cache(maxsize=256)
def parsed_document(text, max_depth):
    """``(document, errors)`` of a query text, kept for the texts clients repeat: parsing
    and validating the board query costs more than running it from warm caches."""
    try:
        guard.check_text(text, max_depth)
        document = parse(text, max_tokens=guard.MAX_TOKENS, max_source_length=guard.MAX_SOURCE)
    except GraphQLError as error:
        return None, (error,)
    return document, tuple(validate(schema, document)) or guard.unstorable_strings(document)


def refuse(errors, status=400):
    raise Refused([format_error(error) for error in errors], status)


def document_for(params):
    """The document of a request's ``query`` or persisted hash, parsed and valid."""
    config = current_app.config
    sha256, text = persisted.requested_hash(params.get("extensions")), params.get("query")
    if text is None and sha256 is not None:
        try:
            text = persisted.lookup(sha256)
        except GraphQLError as error:
            refuse([error], 200)
    elif sha256 is not None:
        persisted.check(sha256, text)
    if not isinstance(text, str):
        refuse([request_error("The request has no query.", "BAD_USER_INPUT")])
    document, errors = parsed_document(text, config["GRAPHQL_MAX_DEPTH"])
    if errors:
        refuse(errors)
    if unstorable(params.get("variables")):  # JSON's own escapes: a NUL or lone surrogate in a variable
        refuse([request_error("A variable contains a character that cannot be stored (NUL or a lone surrogate).",
                              "BAD_USER_INPUT")])
    if sha256 is not None and params.get("query") is not None:
        persisted.remember(sha256, text)
    return document


def spend(user_key, cost):
    """Take ``cost`` points from the caller's hourly budget; return ``extensions.cost``."""
    points = current_app.config["GRAPHQL_POINTS_PER_HOUR"]
    setting = f"{points}/hour" if points else ""
    try:
        limits.hit(setting, POINTS_SCOPE, user_key, cost)
    except Problem as problem:
        error = GraphQLError(problem.detail, extensions=from_problem(problem))
        raise Refused([{"message": problem.detail, "extensions": error.extensions}], 429) from None
    remaining, reset_at = limits.window(setting, POINTS_SCOPE, user_key) or (None, None)
    return {"requested": cost, "limit": points, "remaining": remaining,
            "reset_at": reset_at and isoformat(datetime.fromtimestamp(reset_at, timezone.utc).replace(tzinfo=None))}


class Prepared:
    """A request's operation, checked and paid for, ready to execute."""

    def __init__(self, document, operation, params, cost):
        self.document, self.operation, self.cost = document, operation, cost
        self.variables, self.operation_name = params.get("variables"), params.get("operationName")


def prepare(params, user_key, *, allow_mutation=True, allow_subscription=False):
    """Find a request's operation, check its limits and take its cost from the caller's
    points; raise ``Refused`` (or ``MutationOverGet``) when it may not run."""
    document = document_for(params)
    operation = get_operation_ast(document, params.get("operationName"))
    if operation is None:
        refuse([request_error("Name the operation to run (operationName).", "BAD_USER_INPUT")])
    if operation.operation == OperationType.MUTATION and not allow_mutation:
        raise MutationOverGet()
    if operation.operation == OperationType.SUBSCRIPTION and not allow_subscription:
        refuse([request_error("Subscriptions run over WebSocket at /api/graphql/ws.", "BAD_USER_INPUT")])
    try:
        cost = guard.measure(schema, document, operation, params.get("variables"),
                             current_app.config["GRAPHQL_MAX_DEPTH"])
    except GraphQLError as error:
        refuse([error])
    return Prepared(document, operation, params, spend(user_key, cost))


def coerced_variables(prepared):
    """The operation's variables as its definitions type them; ``Refused`` when they do not fit."""
    found = get_variable_values(schema, prepared.operation.variable_definitions or [], prepared.variables or {})
    if isinstance(found, list):
        refuse(found)
    return found


def execute_prepared(prepared, user):
    """Run a query or mutation; return the response body (``data``, ``errors``, ``extensions.cost``)."""
    result = execute(schema, prepared.document, context_value=Context(user), variable_values=prepared.variables,
                     operation_name=prepared.operation_name, is_awaitable=never_awaitable)
    if result.data is None and result.errors and all(error.path is None for error in result.errors):
        refuse(result.errors)  # the variables did not fit: nothing ran
    body = {"data": result.data}
    if result.errors:
        body["errors"] = [format_error(error) for error in result.errors]
    body["extensions"] = {"cost": prepared.cost}
    return body


def run(params, user, user_key, *, allow_mutation=True):
    """Prepare and run a request's query or mutation; raise ``Refused`` when it may not run."""
    return execute_prepared(prepare(params, user_key, allow_mutation=allow_mutation), user)
