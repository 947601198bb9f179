"""Operations: health, readiness, metrics, and what every request gets (id, log line,
timing, rate limit, security headers)."""
from flask import Blueprint

bp = Blueprint("ops", __name__)

# After ``bp``: the routes in health.py and metrics.py are added to it.
from . import health, limits, logs, metrics, requests, security  # noqa: E402


def init_app(app):
    """Configure logging and install the per-request hooks (called by ``create_app``)."""
    logs.configure_logging(app)
    requests.install(app)
    limits.install(app)
    security.install(app)

