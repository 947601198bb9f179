"""What the RQ worker does with a new attachment: the clamd scan (with ``CLAMD_ADDRESS``),
then the blob's thumbnail or preview. The attachment's row is the truth: a job for an
attachment that is gone, or a blob that has its previews already, does nothing.
"""
import hashlib
import logging

from flask import current_app
from PIL import Image, UnidentifiedImageError
from sqlalchemy import select

from ..extensions import db
from ..models import Attachment, Blob
from ..worker import enqueue_job, in_app_context
from . import blobs, clamd, filetypes, previews
from .storage import storage

log = logging.getLogger(__name__)


def queue_processing(attachment, blob):
    """Queue the job if the attachment waits for a scan or its blob can have a preview."""
    wanted = filetypes.previewable(attachment.content_type)
    needs_preview = wanted is not None and blob.thumbnail_sha256 is None and blob.preview is None
    if attachment.status == "processing" or needs_preview:
        enqueue_job(process_attachment, attachment.id, job_type="attachment.process", job_timeout=600)


@in_app_context
def process_attachment(attachment_id):
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or attachment.status == "rejected":
        return {"skipped": True}
    path = storage().blob_path(attachment.sha256)
    if attachment.status == "processing" and not _scan(attachment, path):
        return {"status": "rejected"}
    blob = db.session.scalar(select(Blob).where(Blob.sha256 == attachment.sha256))
    _make_preview(blob, path)
    attachment.status = "ready"
    db.session.commit()
    return {"status": "ready"}


def _scan(attachment, path):
    """Scan through clamd; an infected file's attachment is rejected and its blob freed."""
    found = clamd.scan(current_app.config["CLAMD_ADDRESS"], path)
    if found is None:
        return True
    attachment.status, attachment.reason = "rejected", f"The virus scanner found {found}."
    db.session.commit()
    blobs.release_blob(attachment.sha256)
    return False


def _make_preview(blob, path):
    kind = filetypes.previewable(blob.content_type)
    if kind is None or blob.thumbnail_sha256 is not None or blob.preview is not None:
        return
    try:
        if kind == "thumbnail":
            png = previews.thumbnail_png(path)
            storage().put_thumbnail(blob.sha256, png)
            blob.thumbnail_sha256 = hashlib.sha256(png).hexdigest()
        else:
            blob.preview = previews.text_preview(path, blob.content_type in filetypes.TABLE_TYPES)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        log.warning("no preview of blob %s: %s", blob.sha256, error)
