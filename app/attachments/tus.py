"""tus 1.0.0 at ``/api/v1/uploads`` (https://tus.io/protocols/resumable-upload): the
core protocol with creation, creation-with-upload, termination, checksum and expiration.

Every request but ``OPTIONS`` must say ``Tus-Resumable: 1.0.0`` (else 412, naming the
version this server speaks), and every answer carries it. Errors are problem+json as
everywhere else; the status codes are the protocol's (409 offset, 415 content type,
460 checksum, 410 expired, 413 too large). In the OpenAPI document with the headers
each request takes; the bodies are bytes, not JSON.
"""
import base64
import binascii

from flask import Response, current_app, request, url_for
from werkzeug.http import http_date

from ..api import Blueprint
from ..auth.tokens import current_user
from ..errors import Problem
from ..ids import plain_int
from . import uploads

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,checksum,expiration"
OFFSET_STREAM = "application/offset+octet-stream"

bp = Blueprint("uploads", __name__, url_prefix="/api/v1/uploads", description="Resumable uploads (tus 1.0.0)")


BYTE_COUNT = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}  # what _number_header takes


def _documented(*names):
    """The OpenAPI description of a tus request: the headers it takes. (Its body, bytes of
    ``application/offset+octet-stream``, is left out: OpenAPI tools cannot generate it.)"""
    headers = {"Tus-Resumable": {"type": "string", "enum": [TUS_VERSION]},
               "Upload-Length": BYTE_COUNT, "Upload-Offset": BYTE_COUNT,
               "Upload-Metadata": {"type": "string"}, "Upload-Checksum": {"type": "string"}}
    return {"parameters": [{"in": "header", "name": name, "schema": headers[name],
                            "required": name in ("Tus-Resumable", "Upload-Length", "Upload-Offset")}
                           for name in ("Tus-Resumable", *names)]}


@bp.before_request
def require_tus_version():
    if request.method != "OPTIONS" and request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise Problem(412, f"This server speaks tus {TUS_VERSION}: send Tus-Resumable: {TUS_VERSION}.",
                      headers={"Tus-Version": TUS_VERSION})


@bp.after_request
def say_tus_version(response):
    response.headers["Tus-Resumable"] = TUS_VERSION
    return response


@bp.route("", methods=["OPTIONS"], provide_automatic_options=False)
@bp.response(204, description="The server's tus version, extensions, checksum algorithms and largest upload.")
def describe():
    return Response(status=204, headers={
        "Tus-Version": TUS_VERSION, "Tus-Extension": EXTENSIONS,
        "Tus-Checksum-Algorithm": ",".join(uploads.CHECKSUMS),
        "Tus-Max-Size": str(current_app.config["ATTACHMENT_MAX_BYTES"]),
    })


def _number_header(name, required=True):
    text = request.headers.get(name)
    if text is None and not required:
        return None
    value = plain_int((text or "").strip())
    if value is None:
        raise Problem(400, f"{name} must be a non-negative integer.")
    return value


def _checksum():
    """``Upload-Checksum: <algorithm> <base64>`` as ``(algorithm, digest)``, or None."""
    header = request.headers.get("Upload-Checksum")
    if header is None:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    if algorithm not in uploads.CHECKSUMS:
        raise Problem(400, f"Upload-Checksum: {algorithm!r} is not one of {', '.join(uploads.CHECKSUMS)}.")
    try:
        return algorithm, base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        raise Problem(400, "Upload-Checksum: the checksum is not base64.") from None


def _write_body(upload, user):
    """Append the request's body to ``upload`` at the offset it names (or 0 on creation)."""
    # An upload's body is bounded by its own Upload-Length, not the app's MAX_CONTENT_LENGTH
    # (None here would mean "the app's setting"); a body past it is refused as it arrives.
    request.max_content_length = current_app.config["ATTACHMENT_MAX_BYTES"]
    offset = _number_header("Upload-Offset") if request.method == "PATCH" else upload.offset
    checksum = _checksum()
    try:
        uploads.append(upload, user, request.stream, offset, checksum)
    except uploads.ChecksumMismatch:
        raise Problem(460, "The body does not match Upload-Checksum; its bytes were dropped.",
                      title="Checksum Mismatch") from None


def _state_headers(upload):
    headers = {"Upload-Offset": str(upload.offset)}
    if upload.offset < upload.length:
        headers["Upload-Expires"] = http_date(upload.expires_at)
    if upload.attachment_id is not None:
        headers["Beacon-Attachment-Id"] = str(upload.attachment_id)
    return headers


@bp.route("", methods=["POST"])
@bp.doc(**_documented("Upload-Length", "Upload-Metadata", "Upload-Checksum"))
@bp.response(201, description="Created: ``Location`` names the upload; ``Upload-Offset`` says how much arrived.")
def create():
    user = current_user()
    if request.headers.get("Upload-Defer-Length") is not None:
        raise Problem(400, "Upload-Defer-Length is not supported: send Upload-Length.")
    length = _number_header("Upload-Length")
    has_body = (request.content_length or 0) > 0
    if has_body and request.mimetype != OFFSET_STREAM:
        raise Problem(415, f"A body sent with the creation must be {OFFSET_STREAM}.")
    upload = uploads.create_upload(user, length, request.headers.get("Upload-Metadata"))
    if has_body and upload.attachment_id is None:
        _write_body(upload, user)
    headers = _state_headers(upload)
    headers["Location"] = url_for("uploads.status", upload_id=upload.id, _external=True)
    return Response(status=201, headers=headers)


@bp.route("/<upload_id>", methods=["HEAD"])
@bp.doc(**_documented())
@bp.response(200, description="``Upload-Offset`` (where to resume) and ``Upload-Length``; no body.")
def status(upload_id):
    upload = uploads.load_upload(upload_id, current_user())
    headers = _state_headers(upload)
    headers.update({"Upload-Length": str(upload.length), "Cache-Control": "no-store"})
    if upload.metadata_header:
        headers["Upload-Metadata"] = upload.metadata_header
    return Response(status=200, headers=headers)


@bp.route("/<upload_id>", methods=["PATCH"])
@bp.doc(**_documented("Upload-Offset", "Upload-Checksum"))
@bp.response(204, description="Written: ``Upload-Offset`` is the new offset.")
def append(upload_id):
    user = current_user()
    upload = uploads.load_upload(upload_id, user)
    if request.mimetype != OFFSET_STREAM:
        raise Problem(415, f"A PATCH body must be {OFFSET_STREAM}.")
    _write_body(upload, user)
    return None, 204, _state_headers(upload)


@bp.route("/<upload_id>", methods=["DELETE"])
@bp.doc(**_documented())
@bp.response(204)
def terminate(upload_id):
    uploads.terminate(uploads.load_upload(upload_id, current_user()))
