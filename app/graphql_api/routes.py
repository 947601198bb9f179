"""GraphQL over HTTP (the GraphQL-over-HTTP specification, as CONTRACT section 12 reads it).

``POST /api/graphql`` takes a JSON body; ``GET`` takes the same parameters in the query
string and runs queries only (a mutation is 405, so a GET never changes anything). The
answer is ``application/graphql-response+json`` when the client accepts it (then a
document that does not parse or validate is a 400), else ``application/json`` (then
it is a 200 with ``errors`` and no ``data``). No or a bad token is 401 for the whole
request, as in REST.
"""
import json

from flask import Response, current_app, g, request

from ..auth.tokens import bearer_token, current_user, hash_token
from ..errors import Problem
from . import bp
from .problems import from_problem
from .runner import MutationOverGet, Refused, run
from .schema import SDL

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def _media_type():
    """The response type: ``application/graphql-response+json`` when the client names it
    (and prefers it), else ``application/json`` (also for ``*/*`` and no Accept, as the
    specification says); 406 when it accepts neither."""
    accepted = request.accept_mimetypes
    named = dict(accepted)
    if named.get(GRAPHQL_RESPONSE, 0) > 0 and named[GRAPHQL_RESPONSE] >= named.get(JSON, 0):
        return GRAPHQL_RESPONSE
    if not accepted or accepted.best_match([JSON]):
        return JSON
    raise Problem(406, f"This endpoint answers {GRAPHQL_RESPONSE} or {JSON}.")


def _params():
    """The request's ``query``, ``variables``, ``operationName`` and ``extensions``."""
    if request.method == "POST":
        if not request.is_json:
            raise Problem(415, "Send the request as application/json.")
        params = g.get("json_body")
        if not isinstance(params, dict):
            raise Problem(400, "The body must be a JSON object with a query.")
    else:
        params = {name: request.args[name] for name in ("query", "operationName") if name in request.args}
        for name in ("variables", "extensions"):
            if name in request.args:
                try:
                    params[name] = json.loads(request.args[name])
                except ValueError:
                    raise Problem(400, f"The {name} parameter is not valid JSON.") from None
    for name, kind in (("query", str), ("operationName", str), ("variables", dict), ("extensions", dict)):
        if params.get(name) is not None and not isinstance(params[name], kind):
            raise Problem(400, f"{name} must be a {'string' if kind is str else 'JSON object'}.")
    return params


def _answer(body, status, media_type):
    return Response(current_app.json.dumps(body), status=status, content_type=f"{media_type}; charset=utf-8")


@bp.route("/api/graphql", methods=["GET", "POST"])
def graphql_http():
    media_type = _media_type()
    user = current_user()
    params = _params()
    try:
        body = run(params, user, f"token:{hash_token(bearer_token())}", allow_mutation=request.method == "POST")
    except MutationOverGet:
        raise Problem(405, "Mutations are sent with POST.", headers={"Allow": "POST"}) from None
    except Refused as refused:
        status = refused.status if media_type == GRAPHQL_RESPONSE or refused.status != 400 else 200
        return _answer({"errors": refused.errors}, status, media_type)
    except Problem as problem:
        if problem.status != 400:
            raise
        return _answer({"errors": [{"message": problem.detail, "extensions": from_problem(problem)}]},
                       400 if media_type == GRAPHQL_RESPONSE else 200, media_type)
    return _answer(body, 200, media_type)


@bp.route("/api/graphql/schema.graphql", methods=["GET"])
def graphql_sdl():
    """The schema in SDL, for code generators and humans."""
    return Response(SDL, content_type="text/plain; charset=utf-8")
