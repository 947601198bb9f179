"""Serve Beacon (web, API and Socket.IO): ``python app.py`` or ``make run``."""
import os

if os.environ.get("SOCKETIO_ASYNC_MODE") == "eventlet":
    # Before anything else is imported, or sockets and locks block the green loop.
    import eventlet

    eventlet.monkey_patch()

from app import create_app, freeze_startup_heap, serving  # noqa: E402
from app.extensions import socketio  # noqa: E402

if __name__ == "__main__":
    application = create_app()
    serving.start(application)
    freeze_startup_heap()
    socketio.run(application, host=os.environ.get("HOST", "0.0.0.0"),
                 port=int(os.environ.get("PORT", 5000)), allow_unsafe_werkzeug=True)
