"""GraphQL over WebSocket at ``/api/graphql/ws``: the ``graphql-transport-ws`` protocol
(as the npm ``graphql-ws`` client speaks it) on flask-sock, which runs under Werkzeug,
gunicorn threads and eventlet alike.

A connection has two threads: this handler reads the client's messages, and a sender
renders and sends what its subscriptions receive (``live.deliver`` only queues), and
re-validates the connection every ``REALTIME_REVALIDATE_SECONDS``, as ``/realtime``'s
upkeep does for sockets: a revoked, expired or deactivated token closes it with 4403; a
subscription whose room the user may no longer read ends with ``error`` (FORBIDDEN).
"""
import json
import logging
import queue
import threading
import time
from typing import NamedTuple

from flask import current_app
from graphql import OperationType
from simple_websocket import ConnectionClosed
from ..auth.tokens import hash_token, resolve_token
from ..errors import Problem
from ..extensions import db, sock
from ..models import User
from ..realtime.rooms import RoomError, may_read
from . import bp, live
from .problems import from_problem
from .runner import Context, MutationOverGet, Refused, coerced_variables, execute_prepared, prepare
from .schema import schema
from .subscriptions import Subscription

log = logging.getLogger(__name__)
PROTOCOL = "graphql-transport-ws"
INIT_SECONDS = 10
STOP = ("stop",)


class Viewer(NamedTuple):
    """The connection's user, as resolvers and access checks read it."""
    id: int
    is_admin: bool


class Close(Exception):
    """End the connection with a protocol close code."""

    def __init__(self, code, reason):
        super().__init__(reason)
        self.code, self.reason = code, reason


def _message(raw):
    try:
        message = json.loads(raw)
    except (TypeError, ValueError):
        raise Close(4400, "Invalid message") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise Close(4400, "Invalid message")
    return message


@sock.route("/api/graphql/ws", bp=bp)
def graphql_ws(ws):
    Connection(ws, current_app._get_current_object()).serve()


class Connection:
    """One client's socket: its token, its subscriptions by id, and its sender's queue."""

    def __init__(self, ws, app):
        self.ws, self.app = ws, app
        self.outbox = queue.Queue()
        self.subscriptions = {}
        self.send_lock = threading.Lock()
        self.token = self.viewer = None

    def serve(self):
        sender = None
        try:
            if self.ws.subprotocol != PROTOCOL:
                raise Close(4406, "Subprotocol not acceptable")
            self._initialize()
            sender = threading.Thread(target=self._send_loop, daemon=True)
            sender.start()
            while True:
                self._handle(_message(self.ws.receive()))
                db.session.rollback()  # no transaction held between messages
        except Close as close:
            log.info("GraphQL WebSocket closed: %s %s", close.code, close.reason)
            self.close(close.code, close.reason)
        except ConnectionClosed:
            pass
        finally:
            for subscription in self.subscriptions.values():
                subscription.stop()
            self.outbox.put(STOP)
            if sender is not None:
                sender.join(5)

    def close(self, code, reason):
        try:
            self.ws.close(reason=code, message=reason)
        except ConnectionClosed:
            pass

    def send(self, message):
        with self.send_lock:
            self.ws.send(json.dumps(message))

    def queue(self, item):
        self.outbox.put(item)

    def _initialize(self):
        deadline = time.monotonic() + INIT_SECONDS
        while True:
            raw = self.ws.receive(timeout=max(0.0, deadline - time.monotonic()))
            if raw is None:
                raise Close(4408, "Connection initialisation timeout")
            message = _message(raw)
            if message["type"] == "subscribe":
                raise Close(4401, "Unauthorized")
            if message["type"] == "connection_init":
                break
        payload = message.get("payload") or {}
        token = resolve_token(payload.get("token") if isinstance(payload, dict) else None)
        if token is None:
            raise Close(4403, "Forbidden")
        self.token = payload["token"]
        self.viewer = Viewer(token.user_id, token.user.is_admin)
        db.session.rollback()
        live.listen()
        self.send({"type": "connection_ack"})

    def _handle(self, message):
        kind = message["type"]
        if kind == "connection_init":
            raise Close(4429, "Too many initialisation requests")
        if kind == "ping":
            self.send({"type": "pong"})
        elif kind == "subscribe":
            self._subscribe(message)
        elif kind == "complete":
            subscription = self.subscriptions.pop(message.get("id"), None)
            if subscription is not None:
                subscription.stop()
        elif kind != "pong":
            raise Close(4400, "Invalid message")

    def _subscribe(self, message):
        sub_id, payload = message.get("id"), message.get("payload")
        if not isinstance(sub_id, str) or not isinstance(payload, dict):
            raise Close(4400, "Invalid message")
        if sub_id in self.subscriptions:
            raise Close(4409, f"Subscriber for {sub_id} already exists")
        try:
            prepared = prepare(payload, f"token:{hash_token(self.token)}", allow_subscription=True)
            if prepared.operation.operation != OperationType.SUBSCRIPTION:
                body = execute_prepared(prepared, db.session.get(User, self.viewer.id))
                self.send({"id": sub_id, "type": "next", "payload": body})
                self.send({"id": sub_id, "type": "complete"})
                return
            subscription = Subscription(self, sub_id, prepared, coerced_variables(prepared), schema)
            subscription.check_access(self.viewer)
        except Refused as refused:
            self.send({"id": sub_id, "type": "error", "payload": refused.errors})
            return
        except (MutationOverGet, RoomError):
            self.send({"id": sub_id, "type": "error", "payload": [
                {"message": "The subject does not exist or is not visible to you.", "extensions": {"code": "NOT_FOUND"}}]})
            return
        except Problem as problem:
            self.send({"id": sub_id, "type": "error", "payload": [
                {"message": problem.detail, "extensions": from_problem(problem)}]})
            return
        self.subscriptions[sub_id] = subscription
        subscription.start()  # waits for live events first, then replays: none falls between
        self.queue(("start", subscription))

    def _send_loop(self):
        interval = self.app.config["REALTIME_REVALIDATE_SECONDS"]
        with self.app.app_context():
            next_check = time.monotonic() + interval
            while True:
                try:
                    item = self.outbox.get(timeout=max(0.0, next_check - time.monotonic()))
                except queue.Empty:
                    item = None
                try:
                    if item is STOP:
                        return
                    if item is not None:
                        self._deliver(item)
                    if time.monotonic() >= next_check:
                        next_check = time.monotonic() + interval
                        self._revalidate()
                except ConnectionClosed:
                    return
                except Exception:  # never a silent dead sender: the client is told, and reconnects
                    log.exception("GraphQL WebSocket sender failed")
                    self.close(4500, "Internal error")
                    return
                finally:
                    db.session.rollback()

    def _deliver(self, item):
        kind, subscription, *rest = item
        if self.subscriptions.get(subscription.id) is not subscription:
            return  # completed since
        context = Context(self.viewer)
        going = subscription.begin(context, self.send) if kind == "start" else \
            subscription.receive(context, rest[0], self.send)
        if not going:
            self.subscriptions.pop(subscription.id, None)
            subscription.stop()
            self.send({"id": subscription.id, "type": "complete"})

    def _revalidate(self):
        token = resolve_token(self.token)
        if token is None:
            self.close(4403, "Forbidden")
            return
        self.viewer = Viewer(token.user_id, token.user.is_admin)
        for sub_id, subscription in list(self.subscriptions.items()):
            if not may_read(subscription.room, self.viewer.id):
                self.subscriptions.pop(sub_id, None)
                subscription.stop()
                self.send({"id": sub_id, "type": "error", "payload": [
                    {"message": "You can no longer read this.", "extensions": {"code": "FORBIDDEN"}}]})
