"""The baseline of bench/attachments.py: a bare Flask app that streams a request's body to
a file (1 MB at a time) and serves that file back with ``send_file``."""
import os
import tempfile

from flask import Flask, jsonify, request, send_file

app = Flask(__name__)
FOLDER = os.environ.get("BARE_UPLOAD_DIR") or tempfile.mkdtemp(prefix="bare-upload-")
PATH = os.path.join(FOLDER, "bare-received.bin")


@app.post("/upload")
def upload():
    request.max_content_length = None
    size = 0
    with open(PATH, "wb") as out:
        while chunk := request.stream.read(1024 * 1024):
            out.write(chunk)
            size += len(chunk)
    return jsonify({"size": size}), 201


@app.get("/file")
def download():
    return send_file(PATH, mimetype="application/octet-stream", conditional=True)


@app.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})
