"""Serve Beacon (web, API and Socket.IO): ``python app.py`` or ``make run``."""
import os

from app import create_app
from app.extensions import socketio

if __name__ == "__main__":
    application = create_app()
    if application.config["EMBEDDED_WORKER"]:
        from app.worker import start_embedded_worker

        start_embedded_worker(application)
    socketio.run(application, host=os.environ.get("HOST", "0.0.0.0"),
                 port=int(os.environ.get("PORT", 5000)), allow_unsafe_werkzeug=True)
