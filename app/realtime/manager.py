"""The Socket.IO client manager: where each process delivers emits to its own sockets.

``Gatekeeper`` sits just above python-socketio's in-memory ``Manager`` (for the Redis
manager, below its publish step), so it sees every message this process delivers,
whichever process emitted it. There it:

- delivers events (``broadcast.DELIVER``): every socket of this process in any of their
  rooms gets each event once, in seq order, labelled by the room it has it through
  (``broadcast.runs``), through its outbox (``outbox.py``: at once when nothing waits
  for it, else coalesced into one frame, or ``events.gap`` when too far behind). Sockets
  in the project's room share their frames (every event of a project is in its room);
  those only in issue rooms share them per set of rooms; a socket catching up in the
  project goes through its gate (``catchup.Gate``);
- acts on control messages to personal rooms before passing them on: ``access.lost``
  takes the user's sockets out of the room, ``session.ended`` closes them (as the upkeep
  does when its re-validation finds a socket's token or user no longer valid),
  ``admin.changed`` puts them in or out of ``admins`` and takes them out of the rooms
  they no longer may read; and ``room.closed`` empties a room.

With a message queue, every process, the emitting one included, delivers from the queue,
so all of them deliver one project's events in the order they were sent.
"""
from collections import defaultdict

import socketio

from .. import fastjson
from ..extensions import db
from ..models import User
from ..adapters.socketio_queue import publish_only
from . import connections
from .broadcast import DELIVER, NAMESPACE, rooms_for, runs
from .catchup import Gate
from .namespace import drop_rooms, sids_of_token
from .outbox import Outbox
from .rooms import may_read

CONTROL = {"access.lost", "session.ended", "room.closed", "admin.changed"}


class Gatekeeper(socketio.Manager):
    app = None
    gate = None
    outbox = None
    listeners = ()  # functions of (project key, events) that also get every delivery (GraphQL's)
    news_listeners = ()  # functions of (name, data) that also get every other message (GraphQL's)

    def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None, to=None, **kwargs):
        room = to or room
        if namespace == NAMESPACE and event != DELIVER:
            for listener in self.news_listeners:
                listener(event, data)
        if namespace != NAMESPACE or callback is not None or not isinstance(room, str):
            return super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback)
        if event == DELIVER:
            return self._deliver(data["project"], data["events"])
        if event in CONTROL:
            return self._control(event, data, room)
        if self.rooms.get(namespace, {}).get(room):
            super().emit(event, data, namespace, room=room, skip_sid=skip_sid)

    def _deliver(self, project_key, events):
        for listener in self.listeners:
            listener(project_key, events)
        project_room, here = f"project:{project_key}", self.rooms.get(NAMESPACE, {})
        targets = [(event, rooms_for(event)) for event in events]
        # Most processes have no socket in most rooms: nothing to build then (python-socketio
        # would still encode the packet: 90 ms for the 10,000 events of a batch).
        rooms_here = {room for _event, rooms in targets for room in rooms if here.get(room)}
        if not rooms_here:
            return
        with self.gate.lock:  # a catch-up's gate opens and closes between two deliveries
            self.gate.delivered(targets, rooms_here)
            tracked = {sid: {room for room in rooms_here if sid in here[room]}
                       for sid, projects in self.gate.tracks.items() if project_key in projects}
            tracked = {sid: view for sid, view in tracked.items() if view}
            if project_room in rooms_here:  # every event of the project is in its room: the same runs for all
                sids = [sid for sid in here[project_room] if sid not in tracked]
                self.outbox.offer(sids, [(project_room, events)])
            views = defaultdict(set)  # the other sockets: in issue rooms only
            for room in rooms_here - {project_room}:
                for sid in list(here.get(room, ())):
                    if sid not in tracked and sid not in here.get(project_room, ()):
                        views[sid].add(room)
            groups = defaultdict(list)
            for sid, view in views.items():
                groups[frozenset(view)].append(sid)
            for view, sids in groups.items():
                self.outbox.offer(sids, runs(targets, view, project_key))
            for sid, view in tracked.items():
                self.outbox.offer([sid], runs(self.gate.pick(self.gate.track(sid, project_key), targets, view), view,
                                              project_key))

    def send_local(self, sid, event, data):
        """Send to one socket of this process now, ahead of anything still in the queue (but
        after what waits in its outbox)."""
        self.outbox.flush_now(sid)
        socketio.Manager.emit(self, event, data, NAMESPACE, room=sid)

    def _control(self, event, data, room):
        sids = [sid for sid, _eio_sid in self.get_participants(NAMESPACE, room)]
        if not sids:
            return
        with self.app.app_context():
            if event == "access.lost":
                if may_read(data["room"], int(room.split(":", 1)[1])):
                    return  # access came back before this message did (or an admin keeps it)
                for sid in sids:
                    self.take_out(sid, data["room"], "access.lost")
            elif event == "admin.changed":
                self._recheck_admin(sids, int(room.split(":", 1)[1]))
            elif event == "room.closed":
                for sid in sids:
                    self.take_out(sid, data["room"], "room.closed")
            else:
                for sid in sids_of_token(sids, data.get("token_id")):
                    self.end_session(sid, data["reason"])

    def end_session(self, sid, reason):
        """Tell one socket of this process why it is being closed, then close it (once)."""
        connection = connections.get(sid)
        if connection is not None:
            if connection.ending:
                return
            connection.ending = True
        self.send_local(sid, "session.ended", {"reason": reason})
        self.server.disconnect(sid, namespace=NAMESPACE, ignore_queue=True)

    def take_out(self, sid, room, notice):
        """Take one socket of this process out of ``room`` (and, for a project, out of its
        issues' rooms), telling it ``notice`` for each room it left."""
        for lost in drop_rooms(sid, room):
            self.basic_leave_room(sid, NAMESPACE, lost)
            self.outbox.left(sid, lost)
            self.send_local(sid, notice, {"room": lost})

    def set_admin(self, sid, is_admin):
        """Put one socket of this process in ``admins``, or take it out."""
        connection = connections.get(sid)
        if connection is None:
            return
        connection.user["is_admin"] = is_admin
        if is_admin:
            self.basic_enter_room(sid, NAMESPACE, "admins")
        else:
            self.basic_leave_room(sid, NAMESPACE, "admins")

    def _recheck_admin(self, sids, user_id):
        user = db.session.get(User, user_id)
        is_admin = bool(user is not None and user.is_admin)
        for sid in sids:
            self.set_admin(sid, is_admin)
            connection = connections.get(sid)
            if connection is None or is_admin:
                continue
            for room in list(connection.rooms):
                if room in connection.rooms and not may_read(room, user_id):
                    self.take_out(sid, room, "access.lost")


class LocalManager(Gatekeeper):
    """One process, no message queue (the embedded mode)."""


class QueueManager(socketio.RedisManager, Gatekeeper):
    """Several processes linked by Redis; every process delivers from the queue."""

    def emit(self, event, data, namespace=None, room=None, skip_sid=None, callback=None, to=None, **kwargs):
        if kwargs.get("ignore_queue") or callback is not None or (namespace or "/") != NAMESPACE:
            return super().emit(event, data, namespace=namespace, room=room, skip_sid=skip_sid,
                                callback=callback, to=to, **kwargs)
        # No local delivery here and no host id of ours: our own listener delivers it, in
        # the queue's order, like every other process's.
        publish_only(self, event, data, namespace, to or room, skip_sid)


def client_manager(app, listeners=(), news_listeners=()):
    """The manager for ``socketio.init_app``: Redis-linked with a message queue, else local;
    ``listeners`` get every delivery of events too, ``news_listeners`` every other message."""
    url = app.config["SOCKETIO_MESSAGE_QUEUE"]
    manager = QueueManager(url, channel=app.config["SOCKETIO_CHANNEL"], json=fastjson) if url else LocalManager()
    manager.app, manager.gate = app, Gate()
    manager.outbox = Outbox(manager, app.config["REALTIME_MAX_BACKLOG"], manager.gate.lock)
    manager.listeners, manager.news_listeners = tuple(listeners), tuple(news_listeners)
    return manager
