"""flask-smorest: the OpenAPI document's error responses and its JSON, as Beacon sends them.

flask-smorest documents every error response with ``DEFAULT_RESPONSE_CONTENT_TYPE``,
the content type of the successes too, and serves the document indented. Beacon's
errors are ``application/problem+json`` and its JSON has one style, and flask-smorest
has no public setting for either: ``ProblemDocument`` overrides the two private methods
that do them (``Api._register_responses``, run once by ``Api.init_app``, and
``Api._openapi_json``, the view of ``/openapi.json``).
"""
import http

from flask import jsonify
from flask_smorest.utils import prepare_response

CHECKED_RELEASE = "0.47.0"
PROBLEM_CONTENT_TYPE = "application/problem+json"


class ProblemDocument:
    """Mixed into ``flask_smorest.Api`` (before it) with an ``ERROR_SCHEMA``."""

    def _register_responses(self):
        """Document every error response as the problem+json it is (not flask-smorest's JSON)."""
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    def _openapi_json(self):
        """The document in the one JSON style of every response (flask-smorest indents it)."""
        return jsonify(self.spec.to_dict())
