"""The WSGI entry point: ``gunicorn -k eventlet -w 1 wsgi:app``.

gunicorn's eventlet worker monkey patches before it imports this module; the patch
below covers other eventlet servers started with ``SOCKETIO_ASYNC_MODE=eventlet``. It
must run before anything else is imported, or sockets and locks block the green loop.
gunicorn imports this module in each worker process (do not ``--preload`` it): each
starts its own upkeep, and in embedded mode its own worker thread.
"""
import os

if os.environ.get("SOCKETIO_ASYNC_MODE") == "eventlet":
    import eventlet

    eventlet.monkey_patch()

from app import create_app, freeze_startup_heap, serving  # noqa: E402

app = create_app()
serving.start(app)
freeze_startup_heap()
