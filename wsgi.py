"""The WSGI entry point: ``gunicorn -k eventlet -w 1 wsgi:app``.

gunicorn's eventlet worker monkey patches before it imports this module; the patch
below covers other eventlet servers started with ``SOCKETIO_ASYNC_MODE=eventlet``. It
must run before anything else is imported, or sockets and locks block the green loop.
"""
import os

if os.environ.get("SOCKETIO_ASYNC_MODE") == "eventlet":
    import eventlet

    eventlet.monkey_patch()

from app import create_app, freeze_startup_heap  # noqa: E402
from app.realtime.upkeep import start_upkeep  # noqa: E402

app = create_app()
start_upkeep(app)
freeze_startup_heap()
