"""Rate limits: the sign-in limits of ``RATE_LIMIT_SIGNIN``, and ``RATE_LIMIT_API`` calls
per token (per address without a token).

Sign-in attempts are counted one by one by the ``limits`` library (sliding-window counter)
in Redis when ``REDIS_URL`` is set, in memory otherwise. API calls, which every request
makes, are counted by ``ApiCallCounter``: in-process, shared through Redis ten times a
second. A caller over a limit gets a 429 problem+json with ``Retry-After``. When Redis is
down, calls are served rather than refused.
"""
import functools
import logging
import math
import threading
import time

from flask import current_app, request
from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from ..auth.tokens import bearer_token, hash_token
from ..errors import Problem
from ..extensions import per_app

log = logging.getLogger(__name__)

EXEMPT = {"/api/v1/openapi.json", "/api/v1/auth/tokens"}


def _limiter():
    app = current_app._get_current_object()

    def make():
        uri = app.config.get("RATE_LIMIT_STORAGE_URI") or app.config["REDIS_URL"] or "memory://"
        return SlidingWindowCounterRateLimiter(storage_from_string(uri))

    return per_app(app, "beacon_rate_limiter", make)


@functools.lru_cache(maxsize=16)
def _parsed(setting):
    """The limits of a setting such as ``"10/minute;100/hour"``, parsed once per process."""
    return parse_many(setting)


def _over_limit(item, retry_after):
    return Problem(429, f"Too many requests: the limit is {item}. Try again in {retry_after} s.",
                   headers={"Retry-After": str(retry_after)})


def hit(setting, scope, identity, cost=1):
    """Count one call (or ``cost`` units, such as bytes) of ``identity`` against every limit
    of ``setting``; raise 429 when it is over one of them."""
    _apply(setting, scope, identity, count=True, cost=cost)


def check(setting, scope, identity, cost=1):
    """Raise 429 when ``identity`` has not ``cost`` left in a limit of ``setting``, without counting."""
    _apply(setting, scope, identity, count=False, cost=cost)


def _apply(setting, scope, identity, count, cost):
    if not setting:
        return
    limiter = _limiter()
    try:
        for item in _parsed(setting):
            allowed = (limiter.hit if count else limiter.test)(item, scope, identity, cost=cost)
            if not allowed:
                reset_at = limiter.get_window_stats(item, scope, identity).reset_time
                raise _over_limit(item, max(1, math.ceil(reset_at - time.time())))
    except Problem:
        raise
    except Exception as error:  # the storage is down: serve rather than fail every call
        log.warning("rate limit not checked: %s", type(error).__name__)


def _caller():
    token = bearer_token()
    return f"token:{hash_token(token)[:32]}" if token else f"addr:{request.remote_addr}"


def check_api_limit():
    """Count this API call against ``RATE_LIMIT_API`` (before every request)."""
    if not request.path.startswith("/api/") or request.path in EXEMPT or request.method == "OPTIONS":
        return
    setting = current_app.config.get("RATE_LIMIT_API")
    if setting:
        api_counter(current_app._get_current_object()).hit(_parsed(setting), _caller())


def api_counter(app):
    return per_app(app, "beacon_api_counter", lambda: ApiCallCounter(app))


class ApiCallCounter:
    """Sliding-window call counts shared by every process through Redis, without a Redis
    round trip per call.

    Each process counts its own calls at once and adds them to the shared counts (and
    reads everyone's) in one pipeline every ``SYNC_SECONDS``. A caller is held to the shared
    count as of the last sync plus this process's calls since, so across processes a
    limit can be overshot by at most what the other processes served in the last
    ``SYNC_SECONDS``. A window's count is weighted as in ``limits``' sliding-window counter:
    the previous window's count, scaled by how much of it still overlaps, plus this one's.
    """

    SYNC_SECONDS = 0.1
    PREFIX = "beacon:ratelimit:"

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.known = {}  # (identity, seconds, window) -> shared count at the last sync
        self.pending = {}  # (identity, seconds, window) -> this process's calls not yet shared
        self.synced_at = 0.0

    def hit(self, items, identity):
        """Count one call of ``identity``; raise 429 when it is over one of ``items``."""
        now = time.time()
        if now - self.synced_at >= self.SYNC_SECONDS:
            self.sync(now)
        with self.lock:
            keys = []
            for item in items:
                seconds = item.get_expiry()
                window, into = divmod(now, seconds)
                key = (identity, seconds, int(window))
                used = self._count(identity, seconds, key[2] - 1) * (1 - into / seconds) + self._count(*key)
                if used + 1 > item.amount:
                    raise _over_limit(item, max(1, math.ceil(seconds - into)))
                keys.append(key)
            for key in keys:  # counted only once every limit let it through
                self.pending[key] = self.pending.get(key, 0) + 1

    def _count(self, identity, seconds, window):
        key = (identity, seconds, window)
        return self.known.get(key, 0) + self.pending.get(key, 0)

    def sync(self, now=None):
        """Share this process's calls and read everyone's counts (one pipeline)."""
        now = now or time.time()
        with self.lock:
            self.synced_at = now
            pending, self.pending = self.pending, {}
            live = {key for key in self.known.keys() | pending.keys() if key[2] >= int(now // key[1]) - 1}
            self.known = {key: self.known[key] for key in live if key in self.known}
        if not live:
            return
        keys = sorted(live)
        from ..worker import get_redis

        try:
            pipe = get_redis(self.app).pipeline(transaction=False)
            counts_at = []  # where each key's count is among the answers
            for key in keys:
                identity, seconds, window = key
                name = f"{self.PREFIX}{identity}:{seconds}:{window}"
                counts_at.append(len(pipe))
                if pending.get(key):
                    pipe.incrby(name, pending[key])
                    pipe.expire(name, 2 * seconds + 1)
                else:
                    pipe.get(name)
            answers = pipe.execute()
        except Exception as error:  # Redis is down: count locally until it is back
            log.warning("rate limit counts not shared: %s", type(error).__name__)
            with self.lock:
                for key, calls in pending.items():
                    self.pending[key] = self.pending.get(key, 0) + calls
            return
        with self.lock:
            for key, at in zip(keys, counts_at):
                self.known[key] = int(answers[at] or 0)


def install(app):
    app.before_request(check_api_limit)
