"""Rendered answers to reads of a project's content (issue lists, an issue, its comments,
the change feed), reused while the project's content stays the same.

A page is kept per query with the project's content stamp (the seq and time of its
latest event) it was rendered at, and served only while the stamp is the same; a new
stamp's page replaces the old one, so the cache holds one page per query. Every change
to a project's issues, comments or members writes an event in the same transaction, so
the stamp moves with the data and a page is never served after what it shows has
changed; the caller's access is still checked on every request (``caller_access``),
before the cache is asked.
"""
import threading
from collections import OrderedDict

from flask import current_app

from .auth.permissions import content_stamp
from .extensions import per_app

MAX_BYTES = 16 * 1024 * 1024  # per process
MAX_PAGE_BYTES = 1024 * 1024  # larger pages are not kept


class PageCache:
    """Per query, the latest rendered page and the stamp it was rendered at; least
    recently used queries go first when the pages outgrow ``max_bytes``."""

    def __init__(self, max_bytes=MAX_BYTES):
        self.max_bytes = max_bytes
        self.size = 0
        self.pages = OrderedDict()  # query key -> (stamp, body, headers)
        self.lock = threading.Lock()

    def get(self, key, stamp):
        """``(body, headers)`` of the page for ``key`` if it was rendered at ``stamp``, else None."""
        with self.lock:
            entry = self.pages.get(key)
            if entry is None or entry[0] != stamp:
                return None
            self.pages.move_to_end(key)
            return entry[1:]

    def put(self, key, stamp, body, headers=None):
        """Keep ``body`` (and its response ``headers``) as the page for ``key`` at ``stamp``,
        replacing an older one."""
        if len(body) > MAX_PAGE_BYTES:
            return
        with self.lock:
            old = self.pages.pop(key, None)
            self.size += len(body) - (len(old[1]) if old is not None else 0)
            self.pages[key] = (stamp, body, headers)
            while self.size > self.max_bytes:
                _, (_, evicted, _) = self.pages.popitem(last=False)
                self.size -= len(evicted)


def page_cache(app):
    """The app's page cache (one per app, so apps on different databases never share)."""
    return per_app(app, "beacon_pages", PageCache)


def cached_json(query, access, render):
    """The JSON response for ``query`` on the project of ``access`` (a ``ProjectAccess``):
    the page kept at the project's stamp, or ``render()`` -> ``(value, headers)`` encoded
    and kept, unless a change landed while it was read."""
    cache = page_cache(current_app)
    cached = cache.get(query, access.stamp)
    if cached is None:
        value, headers = render()
        cached = current_app.json.encode(value), headers
        if content_stamp(access.id) == access.stamp:
            cache.put(query, access.stamp, *cached)
    return current_app.response_class(cached[0], mimetype="application/json", headers=cached[1])
