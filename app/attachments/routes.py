"""Routes: an issue's attachments, one-request uploads, and the bytes served safely.

The bytes are served as a download unless they are a raster image or a PDF, with
``nosniff`` and ``Content-Security-Policy: sandbox``: an uploaded HTML or SVG file opened
by its URL is a file to save, and even shown it could run no script on this origin.
"""
import hashlib

from flask import request, send_file

from ..auth.access import caller_access
from ..auth.tokens import current_user
from ..errors import Problem, validation_error
from ..issues.service import load_issue
from ..pagination import PageArgs, page_schema
from . import bp, filetypes, service
from .schemas import AttachmentForm, AttachmentOutput
from .storage import COPY_CHUNK, storage

AttachmentPage = page_schema(AttachmentOutput, "AttachmentPage")
SAFE_SERVING = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox",
                "Cache-Control": "private, no-cache"}


@bp.route("/issues/<int:issue_id>/attachments", methods=["POST"])
@bp.doc(requestBody={"content": {"multipart/form-data": {"schema": AttachmentForm}}})
@bp.response(201, AttachmentOutput)
def upload_attachment(issue_id):
    """Attach a small file in one request (multipart form, field ``file``)."""
    user = current_user()
    issue = load_issue(issue_id, user)
    service.require_member(issue, user)
    sent = request.files.get("file") if request.mimetype == "multipart/form-data" else None
    if sent is None:
        raise validation_error({"file": ["Send the file as the multipart/form-data field 'file'."]})
    try:
        path, size, sha256 = _receive(sent.stream)
    finally:
        sent.close()  # a large form file is spooled to a temporary file
    service.check_size(size)
    service.check_quota(issue.project_id, size)
    attachment = service.add_attachment(issue, user, sent.filename or "file", path, size, sha256)
    if attachment.status == "rejected":
        raise Problem(422, attachment.reason, errors={"file": [attachment.reason]})
    return service.attachment_dict(attachment), 201


def _receive(stream):
    """Copy a form's file into storage, hashing it; return ``(path, size, sha256)``."""
    digest, size = hashlib.sha256(), 0
    with storage().temporary_file() as out:
        while chunk := stream.read(COPY_CHUNK):
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    return out.name, size, digest.hexdigest()


@bp.route("/issues/<int:issue_id>/attachments", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, AttachmentPage)
def list_attachments(args, issue_id):
    """List an issue's attachments, oldest first."""
    access = caller_access(issue_id=issue_id)
    page = service.list_attachments(access.issue_id, args["limit"], args["cursor"])
    page["items"] = [service.attachment_dict(a) for a in page["items"]]
    return page


@bp.route("/attachments/<int:attachment_id>", methods=["GET"])
@bp.response(200, AttachmentOutput)
def get_attachment(attachment_id):
    return service.attachment_dict(service.load_attachment(attachment_id, current_user()))


@bp.route("/attachments/<int:attachment_id>", methods=["DELETE"])
@bp.response(204)
def delete_attachment(attachment_id):
    """Remove an attachment (its uploader, or a maintainer)."""
    user = current_user()
    service.delete_attachment(service.load_attachment(attachment_id, user, for_update=True), user)


def _ready(attachment_id):
    attachment = service.load_attachment(attachment_id, current_user())
    if attachment.status != "ready":
        raise Problem(409, f"This attachment is {attachment.status}, not ready.")
    return attachment


@bp.route("/attachments/<int:attachment_id>/content", methods=["GET"])
@bp.response(200, content_type="application/octet-stream")
def attachment_content(attachment_id):
    """The attachment's bytes (``Range`` requests answered with 206)."""
    attachment = _ready(attachment_id)
    response = send_file(storage().blob_path(attachment.sha256), mimetype=attachment.content_type,
                         as_attachment=not filetypes.is_inline(attachment.content_type),
                         download_name=attachment.filename, etag=attachment.sha256, conditional=True,
                         max_age=None)
    response.headers.update(SAFE_SERVING)
    return response


@bp.route("/attachments/<int:attachment_id>/thumbnail", methods=["GET"])
@bp.response(200, content_type="image/png")
def attachment_thumbnail(attachment_id):
    """A PNG of the image, its longest side 256 px (404 until the job made it)."""
    attachment = _ready(attachment_id)
    blob = attachment.blob
    if blob is None or blob.thumbnail_sha256 is None:
        raise Problem(404, "This attachment has no thumbnail.")
    response = send_file(storage().thumbnail_path(attachment.sha256), mimetype="image/png",
                         etag=blob.thumbnail_sha256, conditional=True, max_age=None)
    response.headers.update(SAFE_SERVING)
    return response
