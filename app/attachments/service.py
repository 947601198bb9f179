"""Attachments: made from a finished file (tus or one request) or from a stored blob,
listed, and removed. Each change writes its event (``attachment.added``,
``attachment.removed``) to the issue's project.

A file becomes an attachment only after its type is read from its bytes: an executable
becomes a ``rejected`` attachment with a ``reason`` and its bytes are deleted; anything
else is stored as a blob (once per distinct SHA-256) and is ``ready`` at once, or
``processing`` until clamd has scanned it when ``CLAMD_ADDRESS`` is set. Thumbnails and
previews are made afterwards by a job (``jobs.py``) and belong to the blob, so a
deduplicated upload has them at once.
"""
import os

from flask import current_app
from sqlalchemy import func, select

from ..auth.permissions import (load_readable, readable_project_ids, require_owner_or_maintainer,
                                require_project_role)
from ..errors import Problem
from ..events.service import record_event
from ..extensions import db
from ..models import Attachment, Blob, Upload
from ..models.base import isoformat, utcnow
from ..pagination import Key, paginate
from . import blobs, filetypes, jobs


def attachment_dict(attachment, blob=None):
    """The contract's attachment; ``blob`` when the caller holds it (else it is loaded)."""
    blob = (blob or attachment.blob) if attachment.status != "rejected" else None
    base = f"/api/v1/attachments/{attachment.id}"
    return {
        "id": attachment.id, "issue_id": attachment.issue_id, "filename": attachment.filename,
        "content_type": attachment.content_type, "size": attachment.size, "sha256": attachment.sha256,
        "status": attachment.status, "reason": attachment.reason, "uploader_id": attachment.uploader_id,
        "created_at": isoformat(attachment.created_at), "url": f"{base}/content",
        "thumbnail_url": f"{base}/thumbnail" if blob is not None and blob.thumbnail_sha256 else None,
        "preview": blob.preview if blob is not None else None,
    }


def require_member(issue, user):
    """Attaching a file needs the right to comment on the issue (the member role)."""
    require_project_role(issue.project, user, "member")


def check_quota(project_id, extra):
    """413 when ``extra`` more bytes would take the project past its quota (its attachments
    plus the uploads still under way)."""
    stored = db.session.scalar(select(func.coalesce(func.sum(Attachment.size), 0))
                               .where(Attachment.project_id == project_id, Attachment.status != "rejected"))
    pending = db.session.scalar(select(func.coalesce(func.sum(Upload.length), 0))
                                .where(Upload.project_id == project_id, Upload.attachment_id.is_(None),
                                       Upload.expires_at > utcnow()))
    quota = current_app.config["ATTACHMENT_PROJECT_QUOTA_BYTES"]
    if stored + pending + extra > quota:
        raise Problem(413, f"This file would take the project past its attachment quota of {quota} bytes.")


def check_size(size):
    limit = current_app.config["ATTACHMENT_MAX_BYTES"]
    if size > limit:
        raise Problem(413, f"An attachment may have at most {limit} bytes.")


def add_attachment(issue, user, filename, path, size, sha256, *, upload=None):
    """Make the finished file at ``path`` an attachment of ``issue`` (commits, with the
    ``upload`` it finishes, if any)."""
    content_type, reason = filetypes.sniff(path)
    status = "rejected" if reason else ("processing" if current_app.config["CLAMD_ADDRESS"] else "ready")
    blob = None
    if reason:
        os.unlink(path)
    else:
        blob = blobs.store_blob(sha256, size, content_type, path)
    return _record(issue, user, filename, content_type, size, sha256, status, reason, upload, blob)


def add_from_blob(issue, user, filename, blob, *, upload=None):
    """Make an attachment of bytes already stored (the deduplicated upload; commits)."""
    blob = blobs.hold_blob(blob.sha256, blob.size, blob.content_type)
    status = "processing" if current_app.config["CLAMD_ADDRESS"] else "ready"
    return _record(issue, user, filename, blob.content_type, blob.size, blob.sha256, status, None, upload, blob)


def _record(issue, user, filename, content_type, size, sha256, status, reason, upload, blob):
    attachment = Attachment(issue_id=issue.id, project_id=issue.project_id, uploader_id=user.id,
                            filename=filetypes.sanitize_filename(filename), content_type=content_type, size=size,
                            sha256=sha256, status=status, reason=reason, created_at=utcnow())
    db.session.add(attachment)
    db.session.flush()
    if upload is not None:
        upload.attachment_id = attachment.id
    record_event(issue.project, "attachment.added", user.id,
                 {"issue_id": issue.id, "attachment": attachment_dict(attachment, blob)})
    db.session.commit()
    if status != "rejected":
        jobs.queue_processing(attachment, blob)
    return attachment


def stored_blob_for(user, sha256):
    """The blob of ``sha256`` if an attachment in a project ``user`` can read holds it, else
    None: whether the bytes exist anywhere else is never told."""
    return db.session.scalar(
        select(Blob).join(Attachment, Attachment.sha256 == Blob.sha256)
        .where(Blob.sha256 == sha256, Attachment.status == "ready",
               Attachment.project_id.in_(readable_project_ids(user))).limit(1))


def list_attachments(issue_id, limit, cursor):
    query = select(Attachment).where(Attachment.issue_id == issue_id)
    keys = [Key(Attachment.created_at, lambda a: a.created_at), Key(Attachment.id, lambda a: a.id)]
    return paginate(query, keys, limit, cursor)


def load_attachment(attachment_id, user, *, for_update=False):
    return load_readable(Attachment, attachment_id, user, for_update=for_update)


def delete_attachment(attachment, user):
    """Remove an attachment (its uploader, or a maintainer), then free its blob if unused."""
    project = attachment.issue.project
    require_owner_or_maintainer(project, user, attachment.uploader_id,
                                "Only the uploader or a maintainer may remove this attachment.")
    record_event(project, "attachment.removed", user.id,
                 {"issue_id": attachment.issue_id, "attachment": attachment_dict(attachment)})
    sha256 = attachment.sha256
    db.session.delete(attachment)
    db.session.commit()
    blobs.release_blob(sha256)
