"""Rate limits: the sign-in limits of ``RATE_LIMIT_SIGNIN``, ``RATE_LIMIT_API`` calls per
token (per address without a token), and ``RATE_LIMIT_AUTH_FAILURES`` 401s per address.

Sign-in attempts (and the other rare, costly calls: member additions) are counted one by
one by the ``limits`` library (sliding-window counter) in Redis when ``REDIS_URL`` is set,
in memory otherwise; ``tally`` counts past a limit, for a backoff that grows with it. API
calls, which every request makes, are counted by ``ApiCallCounter``: in-process, shared
through Redis ten times a second. A caller over a limit gets a 429 problem+json with
``Retry-After``. When Redis is down, calls are served rather than refused.

The API limit is per token before the token is checked, so each made-up token would have
a fresh budget (and cost a database lookup). So every 401 also counts against the
client's address, and an address over ``RATE_LIMIT_AUTH_FAILURES`` is refused before its
token is looked up. Tokens this process has lately seen valid still pass, so a client
that shares the address (a NAT, or a load balancer when ``TRUSTED_PROXIES`` is not set)
is not walled in with whoever sends bad tokens.
"""
import functools
import logging
import math
import threading
import time
from collections import OrderedDict

from flask import current_app, g, request
from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from ..auth.tokens import bearer_token, hash_token
from ..errors import Problem
from ..extensions import per_app
from ..redis_client import get_redis

log = logging.getLogger(__name__)

EXEMPT = {"/api/v1/openapi.json", "/api/v1/auth/tokens"}


def _limiter():
    app = current_app._get_current_object()

    def make():
        uri = app.config.get("RATE_LIMIT_STORAGE_URI") or app.config["REDIS_URL"] or "memory://"
        return SlidingWindowCounterRateLimiter(storage_from_string(uri))

    return per_app(app, "beacon_rate_limiter", make)


@functools.lru_cache(maxsize=16)
def parsed(setting):
    """The limits of a setting such as ``"10/minute;100/hour"``, parsed once per process."""
    return parse_many(setting)


def _over_limit(item, retry_after, what="requests"):
    return Problem(429, f"Too many {what}: the limit is {item}. Try again in {retry_after} s.",
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
        for item in parsed(setting):
            allowed = (limiter.hit if count else limiter.test)(item, scope, identity, cost=cost)
            if not allowed:
                reset_at = limiter.get_window_stats(item, scope, identity).reset_time
                raise _over_limit(item, max(1, math.ceil(reset_at - time.time())))
    except Problem:
        raise
    except Exception as error:  # the storage is down: serve rather than fail every call
        log.warning("rate limit not checked: %s", type(error).__name__)


def window(setting, scope, identity):
    """``(remaining, reset_at)`` of ``identity`` in the first limit of ``setting`` (a Unix
    time), or None when the setting is off or the storage cannot say."""
    if not setting:
        return None
    try:
        stats = _limiter().get_window_stats(parsed(setting)[0], scope, identity)
    except Exception as error:  # as ``_apply``: the storage is down
        log.warning("rate limit not read: %s", type(error).__name__)
        return None
    return stats.remaining, stats.reset_time


UNBOUNDED = 2**31 - 1


def tally(item, scope, identity, *, add=False):
    """The count of ``identity`` over ``item``'s sliding window, weighted as ``limits``
    weighs it but never capped at the item's amount; ``add`` counts one more first. 0 when
    the storage is down."""
    limiter = _limiter()
    key = item.key_for(scope, identity)
    seconds = item.get_expiry()
    try:
        if add:
            limiter.storage.acquire_sliding_window_entry(key, UNBOUNDED, seconds)
        previous, previous_expires_in, current, _ = limiter.storage.get_sliding_window(key, seconds)
    except Exception as error:  # the storage is down: serve rather than fail every call
        log.warning("rate limit not counted: %s", type(error).__name__)
        return 0
    return previous * previous_expires_in / seconds + current


def _caller():
    token = bearer_token()
    return f"token:{hash_token(token)[:32]}" if token else f"addr:{request.remote_addr}"


def check_api_limit():
    """Before every API call: refuse an address over ``RATE_LIMIT_AUTH_FAILURES`` (unless
    the token is one this process saw valid), then count the call against ``RATE_LIMIT_API``."""
    if not request.path.startswith("/api/") or request.path in EXEMPT or request.method == "OPTIONS":
        return
    app = current_app._get_current_object()
    caller = g.rate_limit_caller = _caller()
    failures = app.config.get("RATE_LIMIT_AUTH_FAILURES")
    if failures and caller not in seen_valid(app):
        api_counter(app).check(parsed(failures), _failures_of(request.remote_addr),
                               "failed authentications from this address")
    setting = app.config.get("RATE_LIMIT_API")
    if setting:
        api_counter(app).hit(parsed(setting), caller)


def count_auth_failure(response):
    """After every API call: a 401 counts against the client's address and makes its token
    untrusted; a call whose token authenticated makes it trusted."""
    caller = g.pop("rate_limit_caller", None)
    if caller is None:
        return response
    app = current_app._get_current_object()
    if response.status_code == 401:
        failures = app.config.get("RATE_LIMIT_AUTH_FAILURES")
        if failures:
            api_counter(app).add(parsed(failures), _failures_of(request.remote_addr))
        seen_valid(app).discard(caller)
    elif g.get("user_id") is not None and caller.startswith("token:"):
        seen_valid(app).add(caller)
    return response


def _failures_of(address):
    return f"401:{address}"


def api_counter(app):
    return per_app(app, "beacon_api_counter", lambda: ApiCallCounter(app))


def seen_valid(app):
    return per_app(app, "beacon_seen_valid", SeenValid)


class SeenValid:
    """The callers (token hashes) this process lately saw authenticate: at most ``SIZE``,
    the least recently seen dropped first."""

    SIZE = 10_000

    def __init__(self):
        self.lock = threading.Lock()
        self.callers = OrderedDict()

    def __contains__(self, caller):
        return caller in self.callers

    def add(self, caller):
        with self.lock:
            self.callers[caller] = True
            self.callers.move_to_end(caller)
            if len(self.callers) > self.SIZE:
                self.callers.popitem(last=False)

    def discard(self, caller):
        with self.lock:
            self.callers.pop(caller, None)


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
        self._call(items, identity)

    def check(self, items, identity, what="requests"):
        """Raise 429 when ``identity`` has used up one of ``items``, without counting."""
        self._call(items, identity, what, count=False)

    def add(self, items, identity):
        """Count one call of ``identity`` against ``items``, over their limits or not."""
        self._call(items, identity, check=False)

    def _call(self, items, identity, what="requests", *, check=True, count=True):
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
                if check and used + 1 > item.amount:
                    raise _over_limit(item, max(1, math.ceil(seconds - into)), what)
                keys.append(key)
            for key in keys if count else ():  # counted only once every limit let it through
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
    app.after_request(count_auth_failure)
