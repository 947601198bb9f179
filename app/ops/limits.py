"""The API rate limit: ``RATE_LIMIT_API`` calls per token (per address without a token).

It counts in flask-limiter's storage (Redis when ``REDIS_URL`` is set, so every process
shares the count) with its moving-window strategy; a caller over the limit gets a 429
problem+json with ``Retry-After``. Sign-in has its own limits (auth/routes.py).
"""
import logging
import math
import time

from flask import current_app, request
from limits import parse_many

from ..auth.tokens import bearer_token, hash_token
from ..errors import Problem
from ..extensions import limiter

log = logging.getLogger(__name__)

EXEMPT = {"/api/v1/openapi.json", "/api/v1/auth/tokens"}


def _identity():
    token = bearer_token()
    if token:
        return f"token:{hash_token(token)[:32]}"
    return f"addr:{request.remote_addr}"


def check_api_limit():
    """Count this API call; raise 429 when the caller is over ``RATE_LIMIT_API``."""
    setting = current_app.config.get("RATE_LIMIT_API")
    if not setting or not request.path.startswith("/api/") or request.path in EXEMPT or request.method == "OPTIONS":
        return
    identity = _identity()
    try:
        for item in parse_many(setting):
            if not limiter.limiter.hit(item, "api", identity):
                reset_at = limiter.limiter.get_window_stats(item, "api", identity).reset_time
                retry_after = max(1, math.ceil(reset_at - time.time()))
                raise Problem(429, f"Too many requests: the limit is {item}. Try again in {retry_after} s.",
                              headers={"Retry-After": str(retry_after)})
    except Problem:
        raise
    except Exception as error:  # the limiter's storage is down: serve rather than fail every call
        log.warning("rate limit not checked: %s", type(error).__name__)


def install(app):
    app.before_request(check_api_limit)
