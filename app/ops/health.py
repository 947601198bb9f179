"""``/healthz`` (the process is up) and ``/readyz`` (its database and Redis answer)."""
import redis
from flask import current_app, jsonify
from sqlalchemy import text

from ..extensions import db
from . import bp


@bp.route("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.route("/readyz")
def readyz():
    checks = {"database": _check_database(), "redis": _check_redis()}
    ready = all(value == "ok" for value in checks.values())
    return jsonify({"status": "ok" if ready else "unavailable", "checks": checks}), 200 if ready else 503


def _check_database():
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except Exception as error:  # any failure means "not ready"; the name says which part
        db.session.rollback()
        return f"error: {type(error).__name__}"


def _check_redis():
    if not current_app.config["REDIS_URL"]:
        return "ok"
    try:
        redis.Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=1).ping()
        return "ok"
    except redis.RedisError as error:
        return f"error: {type(error).__name__}"
