"""Serving: ``start(app)``, the one start-up path of a serving process (``startup.py``), and
``serve()``, what ``python app.py`` serves on: gunicorn's threaded worker in threading mode
(``threaded.py``), eventlet's own server when ``SOCKETIO_ASYNC_MODE=eventlet`` (``green.py``).
"""
from ..config import server_settings
from . import threaded
from .startup import start

__all__ = ["serve", "start"]


def serve():
    """Serve web, API and Socket.IO on ``HOST``:``PORT`` until SIGTERM or SIGINT."""
    settings = server_settings()
    if settings.async_mode == "eventlet":
        from . import green  # eventlet is imported only where app.py monkey patched first

        green.serve(settings)
    else:
        threaded.serve(settings)
