"""GraphQL errors from Beacon's problems: the status a REST call would have answered
becomes ``extensions.code``, and a 422's errors by field come along, named as the
GraphQL arguments are (``assigneeId``, not ``assignee_id``)."""
import logging

from graphql import GraphQLError
from marshmallow import ValidationError

from ..errors import Problem, flatten_errors, validation_error

log = logging.getLogger(__name__)

CODES = {400: "BAD_USER_INPUT", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "CONFLICT",
         412: "PRECONDITION_FAILED", 422: "BAD_USER_INPUT", 429: "RATE_LIMITED"}
STATUSES = {"UNAUTHENTICATED": 401, "RATE_LIMITED": 429}  # codes that answer the whole request so


def camel(name):
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def request_error(message, code):
    """An error of the whole request (no data), such as ``QUERY_TOO_COMPLEX``."""
    return GraphQLError(message, extensions={"code": code})


def load(schema, data):
    """``schema.load(data)`` with its messages as a 422 ``Problem`` (``BAD_USER_INPUT``)."""
    try:
        return schema.load(data)
    except ValidationError as error:
        raise validation_error(flatten_errors(error.messages)) from None


def from_problem(problem):
    extensions = {"code": CODES.get(problem.status, "INTERNAL")}
    if problem.errors:
        extensions["errors"] = {"/".join(camel(part) for part in path.split("/")): messages
                                for path, messages in problem.errors.items()}
    return extensions


def format_error(error):
    """The JSON of one error: a problem's detail and code; anything unexpected is logged
    and answered as ``INTERNAL`` without its text."""
    formatted = error.formatted
    original = error.original_error
    if isinstance(original, Problem):
        formatted["message"] = original.detail
        formatted["extensions"] = from_problem(original)
    elif original is not None and not isinstance(original, GraphQLError):
        log.error("unexpected error in a resolver", exc_info=original)
        formatted["message"] = "An unexpected error occurred."
        formatted["extensions"] = {"code": "INTERNAL"}
    elif "code" not in (formatted.get("extensions") or {}):
        formatted["extensions"] = {**(formatted.get("extensions") or {}), "code": "BAD_USER_INPUT"}
    return formatted


def problem_of(error):
    original = error.original_error
    return original if isinstance(original, Problem) else None
