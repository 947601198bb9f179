"""Configuration from the environment (CONTRACT section 2)."""
import os
import secrets
import sys
from pathlib import Path

from . import fastjson


def _env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def normalize_database_url(url, async_mode):
    """Return a SQLAlchemy URL with the driver Beacon uses for this async mode.

    PostgreSQL URLs (``postgres://``, ``postgresql://``, with or without a driver) get
    psycopg 3, except under eventlet, where psycopg 3 blocks the loop and psycopg2
    (patched by psycogreen) does not.
    """
    scheme, sep, rest = url.partition("://")
    if scheme in {"postgres", "postgresql"} or scheme.startswith("postgresql+"):
        driver = "psycopg2" if async_mode == "eventlet" else scheme.partition("+")[2] or "psycopg"
        return f"postgresql+{driver}{sep}{rest}"
    return url


def default_async_mode():
    """Eventlet when the process is monkey patched by it (gunicorn -k eventlet), else threading."""
    return "eventlet" if _eventlet_patched() else "threading"


def _eventlet_patched():
    if "eventlet" not in sys.modules:  # never imported: cannot have patched anything
        return False
    import eventlet.patcher

    return eventlet.patcher.is_monkey_patched("socket")


def load_secret_key(instance_path):
    """Read SECRET_KEY from the environment, or from instance/, generating it once."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


class Config:
    """Settings read from the environment when the app is created."""

    def __init__(self, instance_path):
        env = os.environ
        self.SOCKETIO_ASYNC_MODE = env.get("SOCKETIO_ASYNC_MODE") or default_async_mode()
        database_url = env.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'beacon.db'}"
        self.SQLALCHEMY_DATABASE_URI = normalize_database_url(database_url, self.SOCKETIO_ASYNC_MODE)
        # Connections kept open per process: an eventlet process serves many requests at once,
        # and each one past the pool opens and closes a connection of its own (slow on PostgreSQL).
        # No pool_pre_ping: database.py pings only connections that sat idle.
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_size": int(env.get("DATABASE_POOL_SIZE", 20)),
                                          "json_serializer": fastjson.dumps}
        self.REDIS_URL = env.get("REDIS_URL") or None
        self.SOCKETIO_MESSAGE_QUEUE = env.get("SOCKETIO_MESSAGE_QUEUE") or self.REDIS_URL
        # The pub/sub channel of that queue. Redis channels are shared by every database
        # number, so two deployments (or test runs) on one Redis need a channel each.
        self.SOCKETIO_CHANNEL = env.get("SOCKETIO_CHANNEL") or "flask-socketio"
        self.SECRET_KEY = load_secret_key(instance_path)
        self.BACKUP_DIR = env.get("BACKUP_DIR") or str(Path(instance_path) / "backups")
        self.BACKUP_ENCRYPTION_KEY = env.get("BACKUP_ENCRYPTION_KEY") or None
        self.BACKUP_SCHEDULE = env.get("BACKUP_SCHEDULE", "0 * * * *")
        self.BACKUP_RETENTION = env.get("BACKUP_RETENTION", "hourly=24,daily=7,weekly=4,monthly=12")
        self.METRICS_TOKEN = env.get("METRICS_TOKEN") or None
        self.RATE_LIMIT_SIGNIN = env.get("RATE_LIMIT_SIGNIN", "10/minute;100/minute")
        self.TOKEN_TTL_HOURS = int(env.get("TOKEN_TTL_HOURS", 24 * 30))
        self.BATCH_MAX_OPERATIONS = int(env.get("BATCH_MAX_OPERATIONS", 10_000))
        self.BATCH_CHUNK_SIZE = int(env.get("BATCH_CHUNK_SIZE", 1000))
        self.BATCH_LEASE_SECONDS = float(env.get("BATCH_LEASE_SECONDS", 10))
        self.BATCH_REAPER_SECONDS = int(env.get("BATCH_REAPER_SECONDS", 5))
        self.MAX_CONTENT_LENGTH = int(env.get("MAX_CONTENT_LENGTH", 16 * 1024 * 1024))
        self.ANALYTICS_CACHE_SECONDS = min(30, int(env.get("ANALYTICS_CACHE_SECONDS", 30)))
        self.REALTIME_MAX_ROOMS = int(env.get("REALTIME_MAX_ROOMS", 50))
        self.REALTIME_MAX_PAYLOAD = int(env.get("REALTIME_MAX_PAYLOAD", 4096))
        self.REALTIME_TYPING_SECONDS = float(env.get("REALTIME_TYPING_SECONDS", 5))
        self.REALTIME_LEASE_SECONDS = float(env.get("REALTIME_LEASE_SECONDS", 15))
        self.REALTIME_MAX_REPLAY = int(env.get("REALTIME_MAX_REPLAY", 20_000))
        self.SLOW_REQUEST_MS = float(env.get("SLOW_REQUEST_MS", 500))
        self.CORS_ORIGINS = env.get("CORS_ORIGINS") or None
        self.RATE_LIMIT_API = env.get("RATE_LIMIT_API", "1200/minute")
        self.LOG_LEVEL = env.get("LOG_LEVEL", "INFO").upper()
        self.LOG_FORMAT = env.get("LOG_FORMAT", "json")
        self.CONTENT_SECURITY_POLICY = env.get("CONTENT_SECURITY_POLICY") or None
        self.PERFORMANCE_TRACKING = _env_bool("PERFORMANCE_TRACKING", True)
        self.PERFORMANCE_FLUSH_SECONDS = float(env.get("PERFORMANCE_FLUSH_SECONDS", 1))
        self.EMBEDDED_WORKER = self.REDIS_URL is None and _env_bool("EMBEDDED_WORKER", True)
        self.TESTING = _env_bool("TESTING")
        # flask-smorest / OpenAPI
        self.API_TITLE = "Beacon"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api/v1"
        self.OPENAPI_JSON_PATH = "openapi.json"
