"""The baseline: a bare python-socketio server under eventlet doing Beacon's fan-out.

Clients join a room with a `join` event; `POST /emit` sends one event to the room.
"""
import eventlet

eventlet.monkey_patch()

import json  # noqa: E402
import os  # noqa: E402
from datetime import datetime, timezone  # noqa: E402

import socketio  # noqa: E402

sio = socketio.Server(async_mode="eventlet")
ISSUE = {"id": 11, "key": "WEB-11", "number": 11, "project": "WEB", "title": "", "description": "",
         "status": "open", "priority": "medium", "assignee_id": None, "reporter_id": 1, "labels": [],
         "created_at": "", "updated_at": "", "resolved_at": None, "version": 1}
# The same shape and size as Beacon's issue.created event.
PAYLOAD = {"id": 12, "seq": 12, "project": "WEB", "type": "issue.created", "actor_id": 1, "at": "",
           "data": {"issue": ISSUE}}


@sio.on("connect", namespace="/realtime")
def connect(sid, environ, auth):
    return True


@sio.on("join", namespace="/realtime")
def join(sid, data):
    sio.enter_room(sid, data["room"], namespace="/realtime")
    return {"ok": True}


def emit_app(environ, start_response):
    if environ["PATH_INFO"] == "/emit":
        title = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))["title"]
        stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        issue = {**ISSUE, "title": title, "created_at": stamp, "updated_at": stamp}
        payload = {**PAYLOAD, "at": stamp, "data": {"issue": issue}}
        sio.emit("issue.created", payload, to="project:WEB", namespace="/realtime")
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b'{"ok": true}']


app = socketio.WSGIApp(sio, emit_app)

if __name__ == "__main__":
    eventlet.wsgi.server(eventlet.listen(("127.0.0.1", int(os.environ["PORT"])), backlog=2048), app,
                         log_output=False, max_size=10_000)
