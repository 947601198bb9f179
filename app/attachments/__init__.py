"""Attachments of issues: tus uploads (``tus.bp``), the attachments' REST routes (``bp``),
content-addressed storage, and the jobs that scan files and make previews."""
from ..api import Blueprint

bp = Blueprint("attachments", __name__, url_prefix="/api/v1", description="Attachments")

from . import routes  # noqa: E402,F401
