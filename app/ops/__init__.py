"""Operations: health, readiness, metrics, and what every request gets (id, log line,
timing, rate limit, security headers)."""
from flask import Blueprint

bp = Blueprint("ops", __name__)


def init_app(app):
    """Configure logging and install the per-request hooks (called by ``create_app``)."""
    from . import limits, logs, requests, security

    logs.configure_logging(app)
    requests.install(app)
    limits.install(app)
    security.install(app)


from . import health, metrics  # noqa: E402,F401
