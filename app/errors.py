"""RFC 9457 problem+json responses: one handler for HTTP and domain errors."""
import logging
import re

from flask import current_app, g, jsonify, request
from flask_smorest import Api
from marshmallow import Schema, fields
from werkzeug.exceptions import InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

from . import database
from .adapters.smorest_spec import ProblemDocument
from .extensions import db
from .json_provider import BodyError

log = logging.getLogger(__name__)

PROBLEM_TYPE = "about:blank"
RETRY_AFTER_SECONDS = 5  # of a 503 when the database cannot be reached


class Problem(Exception):
    """A domain error that becomes a problem+json response."""

    def __init__(self, status, detail, *, title=None, errors=None, headers=None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title
        self.errors = errors
        self.headers = headers or {}


def not_found(what="resource"):
    return Problem(404, f"The {what} does not exist or is not visible to you.")


def forbidden(detail="You are not allowed to do this."):
    return Problem(403, detail)


def conflict(detail):
    return Problem(409, detail)


def validation_error(errors, detail="The request is not valid."):
    return Problem(422, detail, errors=errors)


def flatten_errors(errors, prefix=""):
    """Turn marshmallow's nested messages into ``{"a/0/b": ["message"]}``."""
    flat = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            path = f"{prefix}/{key}" if prefix else str(key)
            if isinstance(value, dict):
                flat.update(flatten_errors(value, path))
            else:
                flat[path] = value if isinstance(value, list) else [value]
    else:
        flat[prefix or "_schema"] = errors if isinstance(errors, list) else [errors]
    return flat


def problem_response(status, detail, *, title=None, errors=None, headers=None):
    body = {
        "type": PROBLEM_TYPE,
        "title": title or HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _webargs_errors(data):
    """Flatten webargs' ``{"json": {...}, "query": {...}}`` into field paths."""
    messages = data.get("errors") or data.get("messages") or {}
    flat = {}
    for location_errors in messages.values():
        flat.update(flatten_errors(location_errors))
    return flat


class ProblemSchema(Schema):
    """An RFC 9457 problem, as every error response is documented."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class BeaconApi(ProblemDocument, Api):
    """flask-smorest's Api with problem+json errors."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error):
        _rollback()
        data = getattr(error, "data", None) or {}
        headers = dict(data.get("headers") or {})
        if error.code == 429:
            headers.setdefault("Retry-After", str(getattr(error, "retry_after", None) or 60))
        if isinstance(error, InternalServerError):
            return problem_response(500, "An unexpected error occurred.")
        if error.code == 422 or "messages" in data or "errors" in data:
            return problem_response(422, "The request is not valid.", errors=_webargs_errors(data), headers=headers)
        detail = data.get("message") or error.description
        return problem_response(error.code, detail, headers=headers)


def _rollback():
    """An error answer never leaves a half-done transaction behind."""
    db.session.rollback()


# JSON text can carry a NUL or a surrogate only escaped, so a body without either escape
# needs no walk (a walk of 10,000 batch operations: 15 ms).
_ESCAPED_NUL_OR_SURROGATE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def is_storable(text):
    """False for a string no database can store: one holding a NUL (PostgreSQL text refuses
    it) or a lone surrogate (JSON allows ``"\\ud800"``; UTF-8 cannot encode it)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def unstorable(value, path=""):
    """Paths of the strings in ``value`` that are not ``is_storable``."""
    if isinstance(value, str):
        return [] if is_storable(value) else [path or "_schema"]
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += unstorable(key, path or "_schema") + unstorable(item, f"{path}/{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += unstorable(item, f"{path}/{index}" if path else str(index))
    return found


def register_error_handlers(app):
    @app.before_request
    def reject_malformed_json():
        # The one place a body is parsed: refused with a 400 before any route or schema sees
        # it (webargs takes it from ``g.json_body``). ``g`` lives as long as the app context,
        # which a test (or any caller that pushed one) keeps across requests: a body left
        # there would be read again by a later request that sends none.
        g.pop("json_body", None)
        data = request.get_data(cache=True) if request.is_json else b""
        if data:
            try:
                g.json_body = current_app.json.loads(data)
            except BodyError as error:
                raise Problem(400, str(error)) from None
            except ValueError:
                raise Problem(400, "The request body is not valid JSON.") from None
            bad = unstorable(g.json_body) if _ESCAPED_NUL_OR_SURROGATE.search(data) else []
            if bad:
                raise validation_error({path: ["Contains a character that cannot be stored (NUL or a lone surrogate)."]
                                        for path in bad})
        if "\x00" in request.path or unstorable(request.args.to_dict(flat=False)):
            raise Problem(400, "The URL contains a NUL character.")

    @app.errorhandler(Problem)
    def handle_problem(error):
        _rollback()
        return problem_response(error.status, error.detail, title=error.title, errors=error.errors, headers=error.headers)

    @app.errorhandler(Exception)
    def handle_unexpected(error):
        # HTTPExceptions go to BeaconApi.handle_http_exception, the more specific handler.
        _rollback()
        if database.unavailable(error):
            log.warning("database unavailable: %s", type(getattr(error, "orig", error)).__name__)
            return problem_response(503, "The database cannot be reached just now; try again shortly.",
                                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        log.exception("unhandled error")
        return problem_response(500, "An unexpected error occurred.")
