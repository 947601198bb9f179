"""Route: /api/v1/projects/{key}/events, the change feed, oldest first."""
from marshmallow import Schema, fields

from ..auth.access import caller_access
from ..page_cache import cached_json
from ..pagination import PageArgs, page_schema
from ..schemas import Integer, Timestamp
from . import bp, service


class EventArgs(PageArgs):
    after_seq = Integer(minimum=0, strict=False, load_default=0)  # a BIGINT


class EventOutput(Schema):
    id = fields.Integer()
    seq = fields.Integer()
    project = fields.String()
    type = fields.String()
    actor_id = fields.Integer(allow_none=True)
    at = Timestamp()
    data = fields.Dict()


EventPage = page_schema(EventOutput, "EventPage")


@bp.route("/projects/<string:key>/events", methods=["GET"])
@bp.arguments(EventArgs, location="query")
@bp.response(200, EventPage)
def list_events(args, key):
    """The project's change feed after ``after_seq``, oldest first."""
    access = caller_access(project_key=key)

    def render():
        return service.list_events(access.id, key, args["after_seq"], args["limit"], args["cursor"]), None

    return cached_json(("events", access.id, args["after_seq"], args["limit"], args["cursor"]), access, render)
