"""Tests that watch what follows a commit replace the realtime broadcast among the app's
after-commit consumers (``app.after_commit``)."""
import pytest

from app import after_commit
from app.realtime import broadcast


@pytest.fixture
def replace_broadcast(app):
    """``replace_broadcast(consumer)`` sends the app's committed events to ``consumer``
    instead of the sockets, until the test ends."""
    consumers = after_commit.consumers_of(app)
    original = list(consumers)

    def replace(consumer):
        consumers[:] = [consumer if step is broadcast.events else step for step in original]

    yield replace
    consumers[:] = original
