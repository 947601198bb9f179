"""Automatic persisted queries: a client sends a document's SHA-256 instead of its text;
the first time (or when the server forgot it) it sends both, and the server remembers the
text by hash, in Redis (shared by every process; fakeredis without ``REDIS_URL``) for
``TTL_SECONDS``. Only documents that validate are remembered, so the store holds
nothing that could not run; GET by hash then works, which a cache can key on."""
import hashlib
import re

from ..errors import Problem
from ..worker import get_redis
from .problems import request_error

PREFIX = "beacon:graphql:apq:"
TTL_SECONDS = 7 * 24 * 3600
SHA256 = re.compile(r"[0-9a-f]{64}")


def requested_hash(extensions):
    """The hash named by ``extensions.persistedQuery`` (None without one)."""
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict) or persisted.get("version") != 1 or not isinstance(
            persisted.get("sha256Hash"), str) or not SHA256.fullmatch(persisted["sha256Hash"]):
        raise Problem(400, "extensions.persistedQuery must be {\"version\": 1, \"sha256Hash\": <64 hex digits>}.")
    return persisted["sha256Hash"]


def lookup(sha256):
    """The remembered text of ``sha256``, or the ``PERSISTED_QUERY_NOT_FOUND`` error."""
    text = get_redis().get(PREFIX + sha256)
    if text is None:
        raise request_error("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
    return text.decode()


def check(sha256, text):
    """A document sent with its hash must have that hash."""
    if hashlib.sha256(text.encode()).hexdigest() != sha256:
        raise Problem(400, "extensions.persistedQuery.sha256Hash is not the SHA-256 of the query.")


def remember(sha256, text):
    get_redis().set(PREFIX + sha256, text.encode(), ex=TTL_SECONDS)
