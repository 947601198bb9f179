"""The background upkeep of a server process, every 250 ms: presence diffs, typing that
lapses, sockets whose token expired, events parked for a writer that died, its own
lease, and the connections that dead processes left behind."""
import logging
import time

from ..extensions import socketio
from ..models.base import utcnow
from . import broadcast, connections, diffs, presence
from .broadcast import NAMESPACE
from .connections import server_id

log = logging.getLogger(__name__)
TICK = 0.25
GATE_SECONDS = 10  # how long a caught-up connection keeps skipping what its replay covered


def start_upkeep(app):
    """Take this process's lease and start its upkeep loop (once per process and app)."""
    if app.extensions.get("beacon_realtime_upkeep") == server_id():
        return
    app.extensions["beacon_realtime_upkeep"] = server_id()
    with app.app_context():
        presence.renew_lease(server_id(), app.config["REALTIME_LEASE_SECONDS"])  # before any connection
        sweep_dead_servers()  # what a process that died before this one started left
    socketio.start_background_task(_run, app)


def _run(app):
    lease = app.config["REALTIME_LEASE_SECONDS"]
    last_lease = last_sweep = time.monotonic()
    while True:
        socketio.sleep(TICK)
        with app.app_context():
            try:
                now = time.monotonic()
                if now - last_lease >= lease / 3:
                    renew_lease(lease)
                    last_lease = now
                expire_typing()
                end_expired_sessions()
                if now - last_sweep >= lease / 3:
                    sweep_dead_servers()
                    last_sweep = now
                diffs.flush(send_diff)
                broadcast.send_overdue()
                prune_gate()
            except Exception:  # logged; the loop must outlive a Redis outage or a bad entry
                log.exception("realtime upkeep failed")


def send_diff(room, diff):
    socketio.emit("presence.diff", diff, to=room, namespace=NAMESPACE)


def renew_lease(seconds):
    """Renew the lease; if it had lapsed and the others swept us, put our sockets back."""
    if presence.renew_lease(server_id(), seconds) or presence.entries_of(server_id()):
        return
    for connection in connections.snapshot():
        for room, joined in list(connection.rooms.items()):
            presence.add(room, connection.sid, connection.user, server_id(), joined.project_key)


def expire_typing():
    """Typing lapses back to viewing after ``REALTIME_TYPING_SECONDS`` without a refresh."""
    from .namespace import change_state

    now = time.time()
    for connection in connections.snapshot():
        for room, (deadline, state) in list(connection.typing.items()):
            if deadline <= now and connection.typing.pop(room, None) and room in connection.rooms:
                change_state(connection, room, {**state, "status": "viewing"})


def end_expired_sessions():
    """Close the sockets whose token expired since they connected."""
    now = utcnow()
    for connection in connections.snapshot():
        if connection.expires_at is not None and connection.expires_at <= now:
            connection.expires_at = None  # once: the disconnect may land after the next tick
            socketio.server.manager.end_session(connection.sid, "expired")


def prune_gate():
    manager = socketio.server.manager
    manager.gate.prune(GATE_SECONDS, set(manager.rooms.get(NAMESPACE, {})))


def sweep_dead_servers():
    """Take out of presence the connections of processes whose lease lapsed (killed, crashed)."""
    for dead in presence.dead_servers(server_id()):
        for room, sid, user_id in presence.entries_of(dead):
            presence.remove(room, sid, user_id, dead)
        presence.forget_server(dead)
