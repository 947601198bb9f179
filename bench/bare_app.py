"""The baseline: a bare Flask endpoint returning a JSON page shaped like Beacon's issue list."""
from flask import Flask, jsonify

app = Flask(__name__)
PAGE = {
    "items": [{
        "id": i, "key": f"WEB-{i}", "number": i, "project": "WEB", "title": f"Issue number {i} needs a look",
        "description": "Steps to reproduce: open the page, click the button, wait.", "status": "open",
        "priority": "medium", "assignee_id": None, "reporter_id": 1, "labels": ["bug"],
        "created_at": "2026-11-24T12:00:00.000Z", "updated_at": "2026-11-24T12:00:00.000Z",
        "resolved_at": None, "version": 1,
    } for i in range(50)],
    "next_cursor": "WyIyMDI2LTExLTI0VDEyOjAwOjAwIiwgNTBd",
}


@app.get("/page")
def page():
    return jsonify(PAGE)


@app.get("/one")
def one():
    return jsonify(PAGE["items"][0])


@app.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})
