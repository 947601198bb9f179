"""Broadcast a serving process's committed events from a task of its own, not the writer's.

A REST write used to broadcast its events before answering: it queued for the project's
emit lock (``sequencer.py``: a lock per project, then a few Redis round trips while
holding it), behind every other writer of the project in the process. Under fan-out load
each round trip waits its turn on a busy green loop, so writes to one busy project took
seconds (bench/load.py). Here the writer only hands its events over; one task per
process sends them, several writes' events at a time, each unbroken run of seqs of a
project in one ``send_in_order`` (the sequencer keeps the order across writers and
processes, as before).

Only serving processes run a dispatcher (``start``, from the upkeep). Workers, scripts
and tests in one process broadcast before going on, as before: a worker's process may
end right after its job.
"""
import os
import queue
from collections import defaultdict

from flask import current_app

from ..extensions import socketio

_KEY = "beacon_realtime_dispatch"


def start(app, send):
    """Start this process's dispatcher for ``app`` (once per process), which emits each run
    of events with ``send`` (``broadcast.send_now``)."""
    running = app.extensions.get(_KEY)
    if running is not None and running[0] == os.getpid():
        return
    waiting = queue.Queue()
    app.extensions[_KEY] = (os.getpid(), waiting)
    socketio.start_background_task(_run, app, waiting, send)


def hand_over(payloads):
    """Queue ``payloads`` for this process's dispatcher; False if it has none."""
    running = current_app.extensions.get(_KEY)
    if running is None or running[0] != os.getpid():
        return False
    running[1].put(payloads)
    return True


def _run(app, waiting, send):
    while True:
        taken = list(waiting.get())
        while True:  # what came meanwhile goes along
            try:
                taken += waiting.get_nowait()
            except queue.Empty:
                break
        with app.app_context():
            for run in runs_of_seqs(taken):
                send(run)  # logs what fails: the next run still goes


def runs_of_seqs(payloads):
    """The events per project, in seq order, cut where a seq is missing (another writer's,
    still on its way: the sequencer parks what comes after it)."""
    by_project = defaultdict(list)
    for event in payloads:
        by_project[event["project"]].append(event)
    found = []
    for events in by_project.values():
        events.sort(key=lambda e: e["seq"])
        for event in events:
            if found and found[-1][-1]["project"] == event["project"] and found[-1][-1]["seq"] + 1 == event["seq"]:
                found[-1].append(event)
            else:
                found.append([event])
    return found
