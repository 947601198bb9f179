"""Per-request batch loading, synchronous (it runs the same under threads and eventlet).

graphql-core resolves a list item by item, so ``issue.assignee`` asked of 100 issues would
be 100 queries. Each list a resolver returns is remembered as a group of siblings; the
first time a loader misses a key, it loads that key together with the keys of every
sibling not loaded yet, in one query. The number of statements then follows the depth of
the document, not the number of items.
"""


def never_awaitable(_value):
    """Every resolver here is synchronous: graphql-core need not ask each value whether it
    is awaitable (65,000 checks for 50 requests of the plain list, a tenth of their time)."""
    return False


class Loader:
    """Values by key, fetched many at a time by ``fetch(keys) -> {key: value}``."""

    def __init__(self, fetch):
        self.fetch = fetch
        self.values = {}

    def load(self, key, siblings_keys=()):
        """The value of ``key`` (None when missing), loading ``siblings_keys`` along with it."""
        if key not in self.values:
            wanted = {key, *(k for k in siblings_keys if k is not None and k not in self.values)}
            found = self.fetch(wanted)
            self.values.update({k: found.get(k) for k in wanted})
        return self.values[key]


class Batches:
    """A request's loaders (one per name) and its sibling groups."""

    def __init__(self):
        self.loaders = {}
        self.groups = {}

    def loader(self, name, fetch):
        """The request's loader called ``name`` (made with ``fetch`` the first time)."""
        found = self.loaders.get(name)
        if found is None:
            found = self.loaders[name] = Loader(fetch)
        return found

    def remember(self, items):
        """Make ``items`` siblings of each other; return them."""
        for item in items:
            self.groups[id(item)] = items
        return items

    def siblings(self, item):
        """The items of the list ``item`` came in (itself alone when it came by itself)."""
        return self.groups.get(id(item)) or [item]
