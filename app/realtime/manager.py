"""The Socket.IO client manager: where each process delivers emits to its own sockets.

``Gatekeeper`` sits just above python-socketio's in-memory ``Manager`` (for the Redis
manager, below its publish step), so it sees every message this process delivers,
whichever process emitted it. There it:

- holds back live events from connections still catching up (``catchup.Gate``);
- acts on control messages to personal rooms before passing them on: ``access.lost``
  takes the user's sockets out of the room, ``session.ended`` closes them (as the upkeep
  does when a socket's token expires),
  ``admin.changed`` puts them in or out of ``admins`` and takes them out of the rooms
  they no longer may read; and ``room.closed`` empties a room.

With a message queue, every process, the emitting one included, delivers from the queue,
so all of them deliver one project's events in the order they were sent.
"""
import socketio

from .. import fastjson
from .broadcast import NAMESPACE
from .catchup import Gate
from .rooms import may_read

CONTROL = {"access.lost", "session.ended", "room.closed", "admin.changed"}


class Gatekeeper(socketio.Manager):
    app = None
    gate = None

    def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None, to=None, **kwargs):
        room = to or room
        if namespace != NAMESPACE or callback is not None or not isinstance(room, str):
            return super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback)
        if event in CONTROL:
            return self._control(event, data, room)
        if not self.rooms.get(namespace, {}).get(room):
            # No socket of this process is in the room (most processes, for most rooms):
            # python-socketio would still build and encode the packet, 90 ms for the
            # 10,000 events of a batch.
            return
        extra = []
        if room in self.gate.rooms:
            held, extra = self.gate.filter(room, event, data)
            if held:
                skip_sid = held + (skip_sid if isinstance(skip_sid, list) else [skip_sid])
        super().emit(event, data, namespace, room=room, skip_sid=skip_sid)
        for sid, extra_event, extra_data in extra:
            self.send_local(sid, extra_event, extra_data)

    def send_local(self, sid, event, data):
        """Send to one socket of this process now, ahead of anything still in the queue."""
        socketio.Manager.emit(self, event, data, NAMESPACE, room=sid)

    def _control(self, event, data, room):
        from . import namespace

        sids = [sid for sid, _eio_sid in self.get_participants(NAMESPACE, room)]
        if not sids:
            return
        with self.app.app_context():
            if event == "access.lost":
                if may_read(data["room"], int(room.split(":", 1)[1])):
                    return  # access came back before this message did (or an admin keeps it)
                for sid in sids:
                    self._take_out(sid, data["room"], "access.lost")
            elif event == "admin.changed":
                self._recheck_admin(sids, int(room.split(":", 1)[1]))
            elif event == "room.closed":
                for sid in sids:
                    self._take_out(sid, data["room"], "room.closed")
            else:
                for sid in namespace.sids_of_token(sids, data.get("token_id")):
                    self.end_session(sid, data["reason"])

    def end_session(self, sid, reason):
        """Tell one socket of this process why it is being closed, then close it."""
        self.send_local(sid, "session.ended", {"reason": reason})
        self.server.disconnect(sid, namespace=NAMESPACE, ignore_queue=True)

    def _take_out(self, sid, room, notice):
        """Take one socket of this process out of ``room`` (and, for a project, out of its
        issues' rooms), telling it ``notice`` for each room it left."""
        from . import namespace

        for lost in namespace.drop_rooms(sid, room):
            self.basic_leave_room(sid, NAMESPACE, lost)
            self.send_local(sid, notice, {"room": lost})

    def _recheck_admin(self, sids, user_id):
        from ..extensions import db
        from ..models import User
        from . import connections

        user = db.session.get(User, user_id)
        is_admin = bool(user is not None and user.is_admin)
        for sid in sids:
            connection = connections.get(sid)
            if connection is None:
                continue
            connection.user["is_admin"] = is_admin
            if is_admin:
                self.basic_enter_room(sid, NAMESPACE, "admins")
                continue
            self.basic_leave_room(sid, NAMESPACE, "admins")
            for room in list(connection.rooms):
                if room in connection.rooms and not may_read(room, user_id):
                    self._take_out(sid, room, "access.lost")


class LocalManager(Gatekeeper):
    """One process, no message queue (the embedded mode)."""


class QueueManager(socketio.RedisManager, Gatekeeper):
    """Several processes linked by Redis; every process delivers from the queue."""

    def emit(self, event, data, namespace=None, room=None, skip_sid=None, callback=None, to=None, **kwargs):
        if kwargs.get("ignore_queue") or callback is not None or (namespace or "/") != NAMESPACE:
            return super().emit(event, data, namespace=namespace, room=room, skip_sid=skip_sid,
                                callback=callback, to=to, **kwargs)
        if isinstance(data, tuple):
            data = list(data)
        else:
            data = [data]
        # No local delivery here and no host id of ours: our own listener delivers it, in
        # the queue's order, like every other process's.
        self._publish({"method": "emit", "event": event, "data": data, "binary": False, "namespace": namespace,
                       "room": to or room, "skip_sid": skip_sid, "callback": None, "host_id": "any"})


def client_manager(app):
    """The manager for ``socketio.init_app``: Redis-linked with a message queue, else local."""
    url = app.config["SOCKETIO_MESSAGE_QUEUE"]
    manager = QueueManager(url, channel=app.config["SOCKETIO_CHANNEL"], json=fastjson) if url else LocalManager()
    manager.app, manager.gate = app, Gate()
    return manager
