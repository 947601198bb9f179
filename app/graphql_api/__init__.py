"""GraphQL beside REST (CONTRACT section 12): one schema whose resolvers call the same
services as the REST routes, so a change made here and one made there are the same change
(rules, events, audit). ``routes.py`` speaks GraphQL over HTTP; ``guard.py`` refuses a
document too large, deep or costly before it runs."""
from flask import Blueprint

bp = Blueprint("graphql_api", __name__)

from . import routes, websocket  # noqa: E402,F401
