"""Route: /api/v1/search."""
from marshmallow import Schema, ValidationError, fields, validate

from ..auth.tokens import current_user
from ..pagination import PageArgs, page_schema
from . import bp, service


def _types(value):
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names or any(name not in service.TYPES for name in names):
        raise ValidationError(f"Choose from {', '.join(service.TYPES)}.")


class SearchArgs(PageArgs):
    q = fields.String(required=True, validate=validate.Length(1, 200))
    types = fields.String(load_default=",".join(service.TYPES), validate=_types)


class SearchHit(Schema):
    type = fields.String()
    id = fields.Integer()
    project = fields.String()
    title = fields.String()
    snippet = fields.String()


SearchPage = page_schema(SearchHit, "SearchPage")


@bp.route("/search", methods=["GET"])
@bp.arguments(SearchArgs, location="query")
@bp.response(200, SearchPage)
def search(args):
    """Search projects, issues and comments the caller can read, best matches first."""
    types = {name.strip() for name in args["types"].split(",")}
    return service.search(current_user(), args["q"].strip(), types, args["limit"], args["cursor"])
