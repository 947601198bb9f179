"""Connections (``edges``, ``nodes``, ``pageInfo``, ``totalCount``) over a service's page."""
from ..errors import validation_error

MAX_FIRST = 100


def check_first(first):
    """``first`` may be 1 to 100 (CONTRACT section 12)."""
    if first is None or not 1 <= first <= MAX_FIRST:
        raise validation_error({"first": [f"Must be between 1 and {MAX_FIRST}."]})
    return first


class Connection:
    """A page (``pagination.Page``) as a connection; ``count()`` is run only when the
    document asks for ``totalCount``. With ``batches``, its nodes become siblings."""

    def __init__(self, page, count, batches=None, *, serialized=False):
        """``serialized``: the nodes are the page's items as its service rendered them
        (search hits), not the rows it read."""
        self.page = page
        nodes = page["items"] if serialized else page.rows
        self.nodes = nodes if batches is None else batches.remember(nodes)
        self.count = count

    @property
    def edges(self):
        return [{"cursor": self.page.cursor_at(i), "node": node} for i, node in enumerate(self.nodes)]

    @property
    def page_info(self):
        next_cursor = self.page["next_cursor"]
        end = next_cursor or (self.page.cursor_at(len(self.nodes) - 1) if self.nodes else None)
        return {"has_next_page": next_cursor is not None, "end_cursor": end}

    @property
    def total_count(self):
        return self.count()
