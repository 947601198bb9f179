"""The attachments' scheduled job: unfinished uploads deleted after ``UPLOAD_EXPIRY_HOURS``,
and blobs nothing refers to freed (left by a process that died between removing an
attachment and freeing its blob)."""
from ..worker import add_schedule, in_app_context
from .blobs import release_unreferenced
from .uploads import sweep_expired


@in_app_context
def sweep_uploads():
    return {"uploads": sweep_expired(), "blobs": release_unreferenced()}


def register_schedule(app):
    add_schedule(app, sweep_uploads, interval=app.config["UPLOAD_SWEEP_SECONDS"], name="sweep_uploads")
