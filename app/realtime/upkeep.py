"""The background upkeep of one server process: diffs, typing expiry, its lease, dead peers."""
import logging
import time

from ..extensions import socketio
from . import presence
from .broadcast import NAMESPACE

log = logging.getLogger(__name__)
TICK = 0.25


def start_upkeep(app):
    if app.extensions.get("beacon_realtime_upkeep"):
        return
    app.extensions["beacon_realtime_upkeep"] = True
    from .namespace import SERVER_ID

    with app.app_context():
        presence.renew_lease(SERVER_ID, app.config["REALTIME_LEASE_SECONDS"])  # before any connection
    socketio.start_background_task(_run, app)


def _run(app):
    from .namespace import SERVER_ID

    lease = app.config["REALTIME_LEASE_SECONDS"]
    last_lease = last_sweep = 0.0
    while True:
        socketio.sleep(TICK)
        with app.app_context():
            try:
                now = time.monotonic()
                if now - last_lease >= lease / 3:
                    presence.renew_lease(SERVER_ID, lease)
                    last_lease = now
                expire_typing(app.config["REALTIME_TYPING_SECONDS"])
                if now - last_sweep >= lease / 3:
                    sweep_dead_servers()
                    last_sweep = now
                flush_diffs()
            except Exception:  # the loop must outlive a Redis hiccup; the error is logged
                log.exception("realtime upkeep failed")


def flush_diffs():
    from .namespace import diffs

    for room, diff in diffs.drain().items():
        socketio.emit("presence.diff", diff, to=room, namespace=NAMESPACE)


def expire_typing(seconds):
    """Typing lapses back to viewing after ``seconds`` without a refresh."""
    from .namespace import LOCAL, diffs

    cutoff = time.time() - seconds
    for sid, connection in list(LOCAL.items()):
        for room in list(connection["rooms"]):
            entry = presence.room_entries(room).get(sid)
            if entry and entry["state"].get("status") == "typing" and entry["at"] < cutoff:
                member = presence.set_state(room, sid, {"status": "viewing"})
                if member:
                    diffs.add(room, "updates", member)


def sweep_dead_servers():
    """Remove the connections of server processes whose lease lapsed (killed, crashed)."""
    from .namespace import diffs

    for room, sid, entry in presence.dead_entries():
        user_id, remaining = presence.remove(room, sid)
        presence.unregister_socket(entry["user_id"], sid)
        if user_id is not None:
            diffs.add(room, "leaves" if remaining is None else "updates",
                      remaining or {"user_id": user_id, "name": entry["name"]})
