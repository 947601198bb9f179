"""Configuration from the environment (CONTRACT section 2)."""
import os
import secrets
import sys
from pathlib import Path
from typing import NamedTuple

from limits import parse_many

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
    (made cooperative by ``app/green_postgres.py``) does not.
    """
    scheme, sep, rest = url.partition("://")
    if scheme in {"postgres", "postgresql"} or scheme.startswith("postgresql+"):
        driver = "psycopg2" if async_mode == "eventlet" else scheme.partition("+")[2] or "psycopg"
        return f"postgresql+{driver}{sep}{rest}"
    return url


def async_mode(env):
    """``SOCKETIO_ASYNC_MODE``, else eventlet when the process is monkey patched by it
    (gunicorn -k eventlet), else threading."""
    return env.get("SOCKETIO_ASYNC_MODE") or ("eventlet" if eventlet_patched() else "threading")


def eventlet_patched():
    if "eventlet" not in sys.modules:  # never imported: cannot have patched anything
        return False
    # Imported only where it already is: importing eventlet elsewhere warns of its deprecation.
    import eventlet.patcher

    return eventlet.patcher.is_monkey_patched("socket")


class ServerSettings(NamedTuple):
    """How ``python app.py`` serves, read before any app exists (a gunicorn master makes none)."""

    host: str
    port: int
    threads: int
    async_mode: str
    log_level: str
    log_format: str


def server_settings(env=None):
    """``HOST`` (127.0.0.1: this machine only; 0.0.0.0 for every address), ``PORT``,
    ``SERVER_THREADS`` (requests and WebSockets served at once), the async mode and logging."""
    env = os.environ if env is None else env
    return ServerSettings(env.get("HOST") or "127.0.0.1", int(env.get("PORT") or 5000),
                          int(env.get("SERVER_THREADS") or 100), async_mode(env), *log_settings(env))


def log_settings(env):
    """``LOG_LEVEL`` and ``LOG_FORMAT`` (json or text)."""
    return env.get("LOG_LEVEL", "INFO").upper(), env.get("LOG_FORMAT", "json")


DEFAULT_WEBHOOK_RETRIES = "5,300,1800,7200,18000,36000,50400,72000,86400"


def _seconds_list(text):
    """``"5,300,1800"`` as ``[5.0, 300.0, 1800.0]`` (a retry schedule)."""
    return [float(part) for part in text.split(",") if part.strip()]


def _limits(env, name, default):
    """A rate-limit setting such as ``"20/second;300/minute"``, checked now: the limiter
    counts a limit it cannot parse as a storage failure, and would serve without it."""
    value = env.get(name, default)
    try:
        if value:
            parse_many(value)
    except ValueError as error:
        raise ValueError(f"{name}={value!r} is not a rate limit such as '20/second;300/minute': {error}") from None
    return value


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
        self.SOCKETIO_ASYNC_MODE = async_mode(env)
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
        # Attachments (CONTRACT section 13): where blobs live, and the limits of an upload.
        self.ATTACHMENT_STORAGE = env.get("ATTACHMENT_STORAGE") or f"file:{Path(instance_path) / 'attachments'}"
        self.ATTACHMENT_MAX_BYTES = int(env.get("ATTACHMENT_MAX_BYTES", 100 * 1024 * 1024))
        self.ATTACHMENT_PROJECT_QUOTA_BYTES = int(env.get("ATTACHMENT_PROJECT_QUOTA_BYTES", 10 * 1024**3))
        self.UPLOAD_EXPIRY_HOURS = float(env.get("UPLOAD_EXPIRY_HOURS", 24))
        self.UPLOAD_SWEEP_SECONDS = int(env.get("UPLOAD_SWEEP_SECONDS", 600))
        self.CLAMD_ADDRESS = env.get("CLAMD_ADDRESS") or None
        self.NOTIFICATIONS = env.get("NOTIFICATIONS", "on") != "off"
        self.SMTP_URL = env.get("SMTP_URL") or None
        self.MAIL_FROM = env.get("MAIL_FROM") or "Beacon <beacon@localhost>"
        self.PUBLIC_URL = (env.get("PUBLIC_URL") or f"http://localhost:{server_settings(env).port}").rstrip("/")
        self.NOTIFICATION_DIGEST_MINUTES = max(1, int(env.get("NOTIFICATION_DIGEST_MINUTES", 15)))
        self.METRICS_CACHE_SECONDS = float(env.get("METRICS_CACHE_SECONDS", 5))
        self.RATE_LIMIT_SIGNIN = env.get("RATE_LIMIT_SIGNIN", "10/minute;100/minute")
        self.SIGNIN_BACKOFF_MAX_SECONDS = float(env.get("SIGNIN_BACKOFF_MAX_SECONDS", 2))
        self.RATE_LIMIT_MEMBERS = env.get("RATE_LIMIT_MEMBERS", "30/minute;300/day")
        self.TOKEN_TTL_HOURS = int(env.get("TOKEN_TTL_HOURS", 24 * 30))
        self.BATCH_MAX_OPERATIONS = int(env.get("BATCH_MAX_OPERATIONS", 10_000))
        self.BATCH_CHUNK_SIZE = int(env.get("BATCH_CHUNK_SIZE", 1000))
        self.BATCH_LEASE_SECONDS = float(env.get("BATCH_LEASE_SECONDS", 10))
        self.BATCH_REAPER_SECONDS = int(env.get("BATCH_REAPER_SECONDS", 5))
        self.BATCH_MAX_ATTEMPTS = max(1, int(env.get("BATCH_MAX_ATTEMPTS", 3)))
        self.MAX_CONTENT_LENGTH = int(env.get("MAX_CONTENT_LENGTH", 16 * 1024 * 1024))
        self.ANALYTICS_CACHE_SECONDS = min(30, int(env.get("ANALYTICS_CACHE_SECONDS", 30)))
        self.REALTIME_MAX_ROOMS = int(env.get("REALTIME_MAX_ROOMS", 50))
        self.REALTIME_MAX_PAYLOAD = int(env.get("REALTIME_MAX_PAYLOAD", 4096))
        self.REALTIME_TYPING_SECONDS = float(env.get("REALTIME_TYPING_SECONDS", 5))
        self.REALTIME_LEASE_SECONDS = float(env.get("REALTIME_LEASE_SECONDS", 15))
        self.REALTIME_MAX_REPLAY = int(env.get("REALTIME_MAX_REPLAY", 20_000))
        self.REALTIME_MAX_BACKLOG = int(env.get("REALTIME_MAX_BACKLOG", 5_000))
        # Engine.IO's own defaults; the tests shorten them to see a silent client closed.
        self.REALTIME_PING_INTERVAL = float(env.get("REALTIME_PING_INTERVAL", 25))
        self.REALTIME_PING_TIMEOUT = float(env.get("REALTIME_PING_TIMEOUT", 20))
        # How often each server re-checks all its sockets' tokens, users and rooms in the database.
        self.REALTIME_REVALIDATE_SECONDS = float(env.get("REALTIME_REVALIDATE_SECONDS", 1))
        # Abuse limits of /realtime (realtime/quotas.py), in the syntax of RATE_LIMIT_SIGNIN; "" is off.
        self.REALTIME_RATE_LIMIT_SOCKET = _limits(env, "REALTIME_RATE_LIMIT_SOCKET", "20/second;300/minute")
        self.REALTIME_RATE_LIMIT_USER = _limits(env, "REALTIME_RATE_LIMIT_USER", "50/second;1000/minute")
        self.REALTIME_REPLAY_BYTES_SOCKET = _limits(env, "REALTIME_REPLAY_BYTES_SOCKET", "25000000/10 minutes")
        self.REALTIME_REPLAY_BYTES_USER = _limits(env, "REALTIME_REPLAY_BYTES_USER", "100000000/hour")
        self.REALTIME_MAX_CONNECTIONS_PER_USER = int(env.get("REALTIME_MAX_CONNECTIONS_PER_USER", 20))
        self.SLOW_REQUEST_MS = float(env.get("SLOW_REQUEST_MS", 500))
        self.CORS_ORIGINS = env.get("CORS_ORIGINS") or None
        # Proxies in front of the app whose X-Forwarded-For/-Proto/-Host are believed (0: none).
        self.TRUSTED_PROXIES = int(env.get("TRUSTED_PROXIES", 0))
        self.RATE_LIMIT_API = env.get("RATE_LIMIT_API", "1200/minute")
        self.RATE_LIMIT_AUTH_FAILURES = env.get("RATE_LIMIT_AUTH_FAILURES", "60/minute")
        self.GRAPHQL_MAX_DEPTH = int(env.get("GRAPHQL_MAX_DEPTH", 12))
        self.GRAPHQL_POINTS_PER_HOUR = int(env.get("GRAPHQL_POINTS_PER_HOUR", 5000))
        # flask-sock negotiates a subprotocol only when told it, app-wide (NOTES.md).
        self.SOCK_SERVER_OPTIONS = {"subprotocols": ["graphql-transport-ws"]}
        self.LOG_LEVEL, self.LOG_FORMAT = log_settings(env)
        self.CONTENT_SECURITY_POLICY = env.get("CONTENT_SECURITY_POLICY") or None
        self.PERFORMANCE_TRACKING = _env_bool("PERFORMANCE_TRACKING", True)
        self.PERFORMANCE_FLUSH_SECONDS = float(env.get("PERFORMANCE_FLUSH_SECONDS", 1))
        # Webhooks (CONTRACT section 14): retries after these delays (seconds, +-10% jitter).
        self.WEBHOOK_RETRY_SCHEDULE = _seconds_list(env.get("WEBHOOK_RETRY_SCHEDULE") or DEFAULT_WEBHOOK_RETRIES)
        self.WEBHOOK_ALLOW_PRIVATE = _env_bool("WEBHOOK_ALLOW_PRIVATE")
        self.WEBHOOK_TIMEOUT_SECONDS = float(env.get("WEBHOOK_TIMEOUT_SECONDS", 10))
        # A send's lease: a worker that dies mid-send leaves it; once it lapses the delivery
        # is sent again. Longer than the timeout, so a live send never loses it.
        self.WEBHOOK_LEASE_SECONDS = float(env.get("WEBHOOK_LEASE_SECONDS", 30))
        self.WEBHOOK_DISPATCH_SECONDS = int(env.get("WEBHOOK_DISPATCH_SECONDS", 2))
        self.WEBHOOK_SENDERS = int(env.get("WEBHOOK_SENDERS", 16))
        self.WEBHOOK_SENDERS_PER_ENDPOINT = int(env.get("WEBHOOK_SENDERS_PER_ENDPOINT", 4))
        self.WEBHOOK_RETENTION_DAYS = float(env.get("WEBHOOK_RETENTION_DAYS", 30))
        self.EMBEDDED_WORKER = self.REDIS_URL is None and _env_bool("EMBEDDED_WORKER", True)
        self.TESTING = _env_bool("TESTING")
        # flask-smorest / OpenAPI
        self.API_TITLE = "Beacon"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api/v1"
        self.OPENAPI_JSON_PATH = "openapi.json"
