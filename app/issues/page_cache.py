"""Rendered issue-list pages, reused while the project's content stays the same.

A page is keyed by the project's content stamp (the seq and time of its latest event)
and the query. Every change to a project's issues writes an event in the same
transaction, so the stamp moves with the data and a page is never served after what it
shows has changed; the caller's access is still checked on every request.
"""
import threading
from collections import OrderedDict

MAX_BYTES = 32 * 1024 * 1024  # per process
MAX_PAGE_BYTES = 1024 * 1024  # larger pages are not kept


class PageCache:
    """A least-recently-used map of rendered pages, bounded by their total size."""

    def __init__(self, max_bytes=MAX_BYTES):
        self.max_bytes = max_bytes
        self.size = 0
        self.pages = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            body = self.pages.get(key)
            if body is not None:
                self.pages.move_to_end(key)
            return body

    def put(self, key, body):
        if len(body) > MAX_PAGE_BYTES:
            return
        with self.lock:
            old = self.pages.pop(key, None)
            self.size += len(body) - (len(old) if old is not None else 0)
            self.pages[key] = body
            while self.size > self.max_bytes:
                _, evicted = self.pages.popitem(last=False)
                self.size -= len(evicted)


def page_cache(app):
    """The app's page cache (one per app, so apps on different databases never share)."""
    return app.extensions.setdefault("beacon_issue_pages", PageCache())
