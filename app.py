"""Serve Beacon (web, API and Socket.IO): ``python app.py`` or ``make run``.

On gunicorn's threaded worker, or on eventlet's own server with
``SOCKETIO_ASYNC_MODE=eventlet`` (``app/serving``); ``HOST`` (127.0.0.1) and ``PORT`` (5000).
"""
import os

if os.environ.get("SOCKETIO_ASYNC_MODE") == "eventlet":
    # Before anything else is imported, or sockets and locks block the green loop.
    import eventlet

    eventlet.monkey_patch()

from app import serving  # noqa: E402

if __name__ == "__main__":
    serving.serve()
