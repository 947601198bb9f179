"""Send committed changes to the Socket.IO rooms that should see them.

Web processes and workers share this module: with a message queue configured, an emit
from any process reaches clients on every server process. Events go as one ``DELIVER``
message per project and chunk, not one per room: each server process's manager
(``manager.py``) sends every socket in any of their rooms each event once, however many
of those rooms it is in (a socket in ``project:WEB`` and ``issue:42`` used to get an
event of issue 42 twice). Besides events, it sends control messages to personal rooms
(``user:{id}``) that each server process acts on for its own sockets before passing them
on: ``access.lost`` takes a socket out of a room, ``session.ended`` closes it.
"""
import logging
import threading
import time
from collections import OrderedDict, defaultdict

from redis.exceptions import RedisError

from ..extensions import socketio
from . import dispatch, sequencer

log = logging.getLogger(__name__)
NAMESPACE = "/realtime"
BULK_THRESHOLD = 10  # more events than this for one room in one commit go as events.bulk
BULK_SIZE = 500  # events per events.bulk message (and per DELIVER message)
DELIVER = "beacon.deliver"  # {"project", "events"}: for the managers, never sent to a client as is
PROGRESS_INTERVAL = 0.25  # seconds between two batch.progress of one batch


def rooms_for(event):
    """The rooms an event goes to: its project, and its issue if it has one.

    ``issue.created`` skips the issue's room: no one can have joined the room of an issue
    that did not exist yet, and a batch of 10,000 creates would otherwise publish 10,000
    single-event messages to empty rooms (3 s of the 3.1 s its broadcast took).
    """
    project_room = f"project:{event['project']}"
    if event["type"] == "issue.created":
        return (project_room,)
    issue_id = event["data"].get("issue_id") or (event["data"].get("issue") or {}).get("id")
    return (project_room,) if issue_id is None else (project_room, f"issue:{issue_id}")


def bulk_messages(room, events):
    """``(name, data)`` messages for a room's events, in seq order: one each, or bulk if many."""
    if len(events) <= BULK_THRESHOLD:
        return [(event["type"], event) for event in events]
    return [("events.bulk", {"room": room, "events": events[i:i + BULK_SIZE]})
            for i in range(0, len(events), BULK_SIZE)]


def messages(targets, view, project_key):
    """``(name, data)`` messages that bring a socket in the rooms ``view`` (a set) its
    events of ``targets`` (``(event, rooms_for(event))`` of one project, in seq order): each
    event once, in seq order, in runs labelled by the room the socket has it through (the
    project's room if it is in it, else the issue's), a run of many as ``events.bulk``."""
    return [message for label, run in runs(targets, view, project_key) for message in bulk_messages(label, run)]


def runs(targets, view, project_key):
    """``(room, events)`` runs of the events of ``targets`` a socket in ``view`` gets, in
    seq order, each labelled by the room it has them through (see ``messages``)."""
    project_room = f"project:{project_key}"
    found = []
    for event, rooms in targets:
        through = [room for room in rooms if room in view]
        if not through:
            continue
        label = project_room if project_room in through else through[0]
        if found and found[-1][0] == label:
            found[-1][1].append(event)
        else:
            found.append((label, [event]))
    return found


def events(payloads):
    """Emit committed events to their rooms: each once per socket, in seq order per project
    (in a serving process, from its dispatcher's task: the writer does not wait)."""
    if not dispatch.hand_over(payloads):
        send_now(payloads)


def send_now(payloads):
    """Emit committed events to their rooms before returning."""
    by_project = defaultdict(list)
    for event in payloads:
        by_project[event["project"]].append(event)
    for project_key, project_events in by_project.items():
        try:
            sequencer.send_in_order(project_key, sorted(project_events, key=lambda e: e["seq"]), _send_events)
        except Exception:  # the change is committed whatever fails here: the caller gets its
            # answer, and the project's next broadcast sends these first, from the events table
            log.exception("broadcast of %s events of %s failed", len(project_events), project_key)


def send_overdue():
    """Send the events parked for earlier ones that never came (see ``sequencer``); the
    upkeep calls it and logs what fails."""
    sequencer.send_overdue(_send_events)


def _send_events(project_events):
    project_key = project_events[0]["project"]
    for i in range(0, len(project_events), BULK_SIZE):
        socketio.emit(DELIVER, {"project": project_key, "events": project_events[i:i + BULK_SIZE]},
                      to=f"project:{project_key}", namespace=NAMESPACE)


def emit(name, payload, to):
    """Emit one message to a room (or a list of rooms) of the ``/realtime`` namespace."""
    try:
        socketio.emit(name, payload, to=to, namespace=NAMESPACE)
    except (RedisError, OSError):  # a dead message queue must not fail the committed change
        log.exception("emit of %s to %s failed", name, to)


def access_lost(user_id, room):
    """Take every connection of ``user_id`` out of ``room`` (and, for a project, out of
    its issues' rooms), on every server process."""
    emit("access.lost", {"room": room}, f"user:{user_id}")


def token_revoked(token_id, user_id):
    """Close the sockets opened with this token, on every server process."""
    emit("session.ended", {"reason": "signed_out", "token_id": token_id}, f"user:{user_id}")


def user_deactivated(user_id):
    """Close every socket of this user, on every server process."""
    emit("session.ended", {"reason": "deactivated"}, f"user:{user_id}")


def admin_changed(user_id):
    """Give or take away admin rights on the user's open sockets, on every server process."""
    emit("admin.changed", {}, f"user:{user_id}")


def room_closed(room):
    """Empty a room whose subject is gone (a deleted project), on every server process."""
    emit("room.closed", {"room": room}, room)


def to_admins(name, payload):
    """Send ``backup.finished``, ``backup.restored``, ... to every admin's sockets."""
    if name == "backup.restored":
        sequencer.forget_all()  # the restore rewound every project's seq
    emit(name, payload, "admins")


# Batch id -> {"last": monotonic time, "sent": payload, "pending": (payload, user_id)}, the
# least recently sent first. ``batch_finished`` takes a batch out, but only in the process
# that sent its progress; a batch whose runner died, or that finished in another process,
# is dropped once idle for ``PROGRESS_KEPT`` (past the throttle window it only spares its
# ``batch_finished`` a repeat of the last counts).
_progress = OrderedDict()
_progress_lock = threading.Lock()
PROGRESS_KEPT = 600


def batch_progress(batch, user_id):
    """Send ``batch.progress`` to ``batch:{id}`` and the submitter: at most every 250 ms, the
    latest counts last. ``batch``: a mapping or object with id, done, total, succeeded, failed."""
    payload = _progress_payload(batch)
    with _progress_lock:
        _drop_idle_progress()
        state = _progress.setdefault(payload["id"], {"last": 0.0, "sent": None, "pending": None})
        wait = PROGRESS_INTERVAL - (time.monotonic() - state["last"])
        if wait > 0 and payload["done"] < payload["total"]:
            if state["pending"] is None:  # send the latest counts when the window ends
                timer = threading.Timer(wait, _send_pending_progress, (payload["id"],))
                timer.daemon = True
                timer.start()
            state["pending"] = (payload, user_id)
            return
        state.update(last=time.monotonic(), sent=payload, pending=None)
        _progress.move_to_end(payload["id"])
    _emit_batch("batch.progress", payload, user_id)


def batch_finished(record, user_id):
    """Send the final ``batch.progress`` (unless sent), then ``batch.finished`` with the record."""
    payload = _progress_payload(record)
    with _progress_lock:
        state = _progress.pop(payload["id"], None) or {}
    if state.get("sent") != payload:
        _emit_batch("batch.progress", payload, user_id)
    _emit_batch("batch.finished", record, user_id)


def _send_pending_progress(batch_id):
    with _progress_lock:
        state = _progress.get(batch_id)
        if not state or state["pending"] is None:
            return
        (payload, user_id), state["pending"] = state["pending"], None
        state.update(last=time.monotonic(), sent=payload)
        _progress.move_to_end(batch_id)
    _emit_batch("batch.progress", payload, user_id)


def _drop_idle_progress():
    """Forget the batches that sent no progress for ``PROGRESS_KEPT`` (under the lock)."""
    idle_since = time.monotonic() - PROGRESS_KEPT
    while _progress:
        state = next(iter(_progress.values()))
        if state["last"] > idle_since or state["pending"] is not None:
            return
        _progress.popitem(last=False)


def _progress_payload(batch):
    get = batch.get if isinstance(batch, dict) else lambda name: getattr(batch, name)
    return {name: get(name) for name in ("id", "done", "total", "succeeded", "failed")}


def _emit_batch(name, payload, user_id):
    emit(name, payload, [f"batch:{payload['id']}", f"user:{user_id}"])
