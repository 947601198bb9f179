"""The background upkeep of a server process, every 250 ms: presence diffs, typing that
lapses, sockets whose token or access is no longer valid (``revalidate.py``, every
``REALTIME_REVALIDATE_SECONDS``), events parked for a writer that died, its own lease,
and the connections that dead processes left behind. Each step runs on its own, so that
one failing (the database is down) does not hold up the others (presence lives in Redis)."""
import logging
import time

from ..extensions import socketio
from . import broadcast, connections, diffs, dispatch, presence
from .broadcast import NAMESPACE
from .connections import server_id
from .namespace import change_state
from .revalidate import revalidate

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
    dispatch.start(app, broadcast.send_now)


def _run(app):
    lease, revalidation = app.config["REALTIME_LEASE_SECONDS"], app.config["REALTIME_REVALIDATE_SECONDS"]
    # (step, at most how often in seconds; 0: every tick). Lambdas: looked up on every call,
    # as a test's monkeypatch expects.
    steps = [(lambda: renew_lease(lease), lease / 3), (lambda: expire_typing(), 0),
             (lambda: revalidate(), revalidation), (lambda: sweep_dead_servers(), lease / 3),
             (lambda: diffs.flush(send_diff), 0), (lambda: broadcast.send_overdue(), 0), (lambda: prune_gate(), 0)]
    last = [time.monotonic()] * len(steps)
    while True:
        socketio.sleep(TICK)
        for i, (step, seconds) in enumerate(steps):
            if time.monotonic() - last[i] < seconds:
                continue
            last[i] = time.monotonic()
            with app.app_context():
                try:
                    step()
                except Exception:  # logged; the loop must outlive a Redis or database outage, or a bad entry
                    log.exception("realtime upkeep failed")


def send_diff(room, diff):
    socketio.emit("presence.diff", diff, to=room, namespace=NAMESPACE)


def renew_lease(seconds):
    """Renew the lease; if it had lapsed and the others swept us, put our sockets back."""
    if presence.renew_lease(server_id(), seconds) or presence.entries_of(server_id()):
        return
    for connection in connections.snapshot():
        presence.open_connection(connection.user["id"], connection.sid, server_id())
        for room, joined in list(connection.rooms.items()):
            presence.add(room, connection.sid, connection.user, server_id(), joined.project_key)


def expire_typing():
    """Typing lapses back to viewing after ``REALTIME_TYPING_SECONDS`` without a refresh."""
    now = time.time()
    for connection in connections.snapshot():
        for room, (deadline, state) in list(connection.typing.items()):
            if deadline <= now and connection.typing.pop(room, None) and room in connection.rooms:
                change_state(connection, room, {**state, "status": "viewing"})


def prune_gate():
    manager = socketio.server.manager
    manager.gate.prune(GATE_SECONDS, set(manager.rooms.get(NAMESPACE, {})))


def sweep_dead_servers():
    """Take out of presence (and of the users' connection counts) what processes whose
    lease lapsed (killed, crashed) left there."""
    for dead in presence.dead_servers(server_id()):
        for room, sid, user_id in presence.entries_of(dead):
            presence.remove(room, sid, user_id, dead)
        for sid, user_id in presence.connections_of(dead):
            presence.close_connection(user_id, sid, dead)
        presence.forget_server(dead)
