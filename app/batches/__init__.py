"""Batches: many operations in one request, run by an RQ worker, exactly once."""
from ..api import Blueprint

bp = Blueprint("batches", __name__, url_prefix="/api/v1", description="Batches of operations")


from . import routes  # noqa: E402,F401
