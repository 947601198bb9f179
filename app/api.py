"""The API blueprint: marshmallow validates requests and documents responses.

Services already render JSON-ready dicts, generated from the response schemas
(``schemas.renderer``), so a view's result is sent as it is instead of being dumped
through its response schema again (that re-copy cost ~40% of a list request; per issue,
3.1 µs rendered against 26 µs dumped, ``bench/render.py``). tests/test_openapi.py still
checks the responses against their documented schemas, for the few dicts not generated.
"""
from functools import wraps

import flask_smorest
from flask import Response, g, jsonify
from flask_smorest.utils import unpack_tuple_response
from marshmallow import missing
from webargs.flaskparser import FlaskParser


class ArgumentsParser(FlaskParser):
    def load_json(self, req, schema):
        """The body ``reject_malformed_json`` parsed, checked and refused if need be. webargs
        would parse it again (10 ms of a 10,000-operation batch), with none of those checks.
        (``load_json`` is webargs' public loader for the ``json`` location.)"""
        return g.get("json_body", missing)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = ArgumentsParser()

    def arguments(self, schema, *args, **kwargs):
        """As flask-smorest's, with one schema instance made here rather than one per request
        (making a marshmallow schema copies its fields: a third of a small GET's parsing)."""
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)

    def response(self, status_code, schema=None, **kwargs):
        document = super().response(status_code, schema, **kwargs)

        def decorator(func):
            @wraps(func)
            def render(*args, **view_kwargs):
                result, status, headers = unpack_tuple_response(func(*args, **view_kwargs))
                if isinstance(result, Response):
                    return result, status, headers
                status = status or status_code
                response = Response(status=status) if status == 204 else jsonify(result)
                return response, status, headers

            return document(render)

        return decorator
