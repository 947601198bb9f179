"""Subscriptions: what one ``subscribe`` follows, and how each event becomes a ``next``.

A subscription's access is checked as a ``/realtime`` join checks it
(``realtime.rooms.check_access``), and again on every re-validation of its connection
(``may_read``). Each event runs the document with the event as its root value, which
is what graphql-core's own (asyncio) ``subscribe`` does per event. Events are taken in
seq order and each once: the replay after ``afterSeq`` reads the feed from the database
after the subscription started waiting for live ones, and a live event already replayed
(seq at or below the last sent) is dropped.
"""
from datetime import datetime

from ariadne import ObjectType
from graphql import execute
from graphql.execution.values import get_argument_values

from sqlalchemy import select

from ..events.service import list_events
from ..extensions import db
from ..issues import service as issues
from ..models import Batch, Project
from ..realtime.rooms import check_access
from . import live
from .batching import never_awaitable
from .problems import format_error
from .queries import row_id

subscription_type = ObjectType("Subscription")
REPLAY_PAGE = 500
ACTIVE_BATCH = ("queued", "running")


@subscription_type.field("projectEvents")
@subscription_type.field("issueEvents")
@subscription_type.field("batchProgress")
def resolve_root(root, _info, **_args):
    return root  # the root value is what is being delivered: an event, or a batch


class LiveEvent:
    """An event as ``broadcast`` delivers it, read as the ``Event`` type reads a row."""

    def __init__(self, payload):
        self.id, self.seq, self.type = payload["id"], payload["seq"], payload["type"]
        self.project_key, self.actor_id, self.data = payload["project"], payload["actor_id"], payload["data"]
        self.at = datetime.fromisoformat(payload["at"].removesuffix("Z"))


class Subscription:
    """One ``subscribe`` of a connection: its room, its document, and the last seq sent."""

    def __init__(self, connection, sub_id, prepared, coerced, schema):
        """``prepared``: the checked request (``runner.Prepared``); ``coerced``: its
        variables as the operation types them (``runner.coerced_variables``)."""
        operation = prepared.operation
        self.connection, self.id = connection, sub_id
        self.document, self.variables = prepared.document, prepared.variables
        self.operation_name = operation.name.value if operation.name else None
        self.schema = schema
        field = operation.selection_set.selections[0]
        self.field = field.name.value
        definition = schema.subscription_type.fields[self.field]
        self.args = get_argument_values(definition, field, coerced)
        self.room = self.project_key = None
        self.last_seq = None

    def check_access(self, user):
        """Name the room this subscription reads; raise ``RoomError`` if the user may not."""
        if self.field == "projectEvents":
            room = f"project:{self.args['project']}"
        elif self.field == "issueEvents":
            room = f"issue:{row_id(self.args['issue_id'], 'issue')}"
        else:
            room = f"batch:{row_id(self.args['id'], 'batch')}"
        _kind, project = check_access(room, user)
        self.room = room
        self.project_id = project.id if project is not None else None
        return room

    def push(self, item):
        """Queue a delivered event (or a batch's news) for the connection's sender."""
        self.connection.queue(("event", self, item))

    def begin(self, context, send):
        """On the sender's thread, first: the replay, or the batch as it is now. Return
        False when the subscription is already complete (a finished batch)."""
        if self.field != "batchProgress":
            current = db.session.scalar(select(Project.last_event_seq).where(Project.id == self.project_id))
            self.replay(context, send, current)
            return True
        batch = self.send_batch(context, send)
        return batch is not None and batch.status in ACTIVE_BATCH

    def receive(self, context, item, send):
        """Send what a delivery brings; return False when the subscription is complete."""
        if self.field != "batchProgress":
            if self.last_seq is not None:  # before its start, an event is in its replay
                self.send_event(context, LiveEvent(item), send)
            return True
        name, _data = item
        self.send_batch(context, send)
        return name != "batch.finished"

    def send_batch(self, context, send):
        batch = db.session.get(Batch, int(self.room.split(":")[1]))
        if batch is not None:
            self.render(context, batch, send)
        return batch

    def start(self):
        live.follow(self.room, self)

    def stop(self):
        live.unfollow(self.room, self)

    def replay(self, context, send, current_seq):
        """Send the events after ``afterSeq`` from the database (none without it)."""
        after = self.args.get("after_seq")
        if after is None:
            self.last_seq = current_seq
            return
        self.last_seq = after
        cursor = None
        while True:
            if self.field == "projectEvents":
                page = list_events(self.project_id, self.project_key, after, REPLAY_PAGE, cursor)
                rows = [LiveEvent(item) for item in page["items"]]
            else:
                page = issues.issue_events(int(self.room.split(":")[1]), self.project_id, REPLAY_PAGE, cursor)
                rows = page.rows
            for row in rows:
                self.send_event(context, row, send)
            cursor = page["next_cursor"]
            if cursor is None:
                return

    def send_event(self, context, event, send):
        if event.seq <= self.last_seq:
            return
        self.last_seq = event.seq
        self.render(context, event, send)

    def render(self, context, root, send):
        """Run the document on ``root`` and send the result as ``next``."""
        result = execute(self.schema, self.document, root_value=root, context_value=context,
                         variable_values=self.variables, operation_name=self.operation_name,
                         is_awaitable=never_awaitable)
        payload = {"data": result.data}
        if result.errors:
            payload["errors"] = [format_error(error) for error in result.errors]
        send({"id": self.id, "type": "next", "payload": payload})

