"""tus uploads: made, appended to, finished, terminated, and swept when they expire.

The bytes of a ``PATCH`` go straight from the request to the upload's part file in
chunks, never held whole in memory. Its SHA-256 is computed as they pass; the running
hash stays in this process between ``PATCH``es (a bounded table), and a resume that
lands elsewhere (another process, a restart) hashes again what the part file holds.
Only one ``PATCH`` writes at a time: it holds an exclusive ``flock`` on the part file,
so a second one at once gets 409 (and a process that dies lets go of its lock).
A connection cut mid-``PATCH`` keeps what arrived: the offset moves to what was written.
"""
import base64
import binascii
import fcntl
import hashlib
import os
import re
import secrets
import threading
from collections import OrderedDict
from contextlib import contextmanager
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select
from werkzeug.exceptions import ClientDisconnected

from ..errors import Problem, conflict, not_found, validation_error
from ..extensions import db
from ..models import Issue, Upload
from ..models.base import utcnow
from . import service
from .storage import COPY_CHUNK, storage

CHECKSUMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "md5": hashlib.md5}
MAX_HASHERS = 256  # running hashes kept between PATCHes; one missing costs a re-read of the part file
METADATA_KEY = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")

_hashers = OrderedDict()
_hashers_lock = threading.Lock()


class ChecksumMismatch(Exception):
    """The body's checksum is not what ``Upload-Checksum`` said (tus: 460)."""


def parse_metadata(header):
    """``Upload-Metadata`` as a dict of str (tus: comma-separated ``key base64value``)."""
    metadata = {}
    for pair in filter(None, (part.strip() for part in (header or "").split(","))):
        key, _, encoded = pair.partition(" ")
        if not METADATA_KEY.match(key) or key in metadata:
            raise Problem(400, "Upload-Metadata is not a list of distinct 'key base64value' pairs.")
        try:
            metadata[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Problem(400, f"Upload-Metadata: the value of {key!r} is not base64 of UTF-8 text.") from None
    return metadata


def _issue_from(metadata):
    errors = {}
    if not metadata.get("filename", "").strip():
        errors["metadata/filename"] = ["A filename is required."]
    issue_id = metadata.get("issue_id", "")
    if not (issue_id.isascii() and issue_id.isdigit() and len(issue_id) < 11):
        errors["metadata/issue_id"] = ["An issue id (an integer) is required."]
    sha256 = metadata.get("sha256")
    if sha256 is not None and not SHA256_HEX.match(sha256):
        errors["metadata/sha256"] = ["A SHA-256 is 64 lowercase hexadecimal digits."]
    if errors:
        raise validation_error(errors)
    issue = db.session.get(Issue, int(issue_id))
    if issue is None:
        raise not_found("issue")
    return issue


def create_upload(user, length, metadata_header):
    """Make an upload for the issue named in the metadata (the caller needs the member role
    there). When the metadata names the ``sha256`` of bytes the caller can already read,
    the upload is complete at once and its attachment made."""
    metadata = parse_metadata(metadata_header)
    issue = _issue_from(metadata)
    service.require_member(issue, user)
    service.check_size(length)
    blob = service.stored_blob_for(user, metadata["sha256"]) if "sha256" in metadata else None
    if blob is not None and blob.size != length:
        blob = None
    if blob is None:
        service.check_quota(issue.project_id, length)
    now = utcnow()
    upload = Upload(id=secrets.token_hex(16), user_id=user.id, issue_id=issue.id, project_id=issue.project_id,
                    filename=metadata["filename"][:255], length=length, offset=0, metadata_header=metadata_header or "",
                    created_at=now, expires_at=now + timedelta(hours=current_app.config["UPLOAD_EXPIRY_HOURS"]))
    db.session.add(upload)
    if blob is not None:
        upload.offset = length
        service.add_from_blob(issue, user, upload.filename, blob, upload=upload)
        return upload
    storage().part_path(upload.id).touch(mode=0o600)
    db.session.commit()
    return upload


def load_upload(upload_id, user):
    """The caller's upload (anyone else's is 404); 410 once an unfinished one expired."""
    upload = db.session.get(Upload, upload_id) if len(upload_id) == 32 else None
    if upload is None or upload.user_id != user.id:
        raise not_found("upload")
    if upload.offset < upload.length and upload.expires_at <= utcnow():
        raise Problem(410, "This upload expired; start it again.")
    return upload


@contextmanager
def _exclusive(upload):
    """The part file, open and locked for this PATCH alone (409 if another PATCH holds it)."""
    try:
        fd = os.open(storage().part_path(upload.id), os.O_RDWR)
    except FileNotFoundError:
        raise Problem(410, "This upload's bytes are gone; start it again.") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise conflict("Another request is writing to this upload.") from None
        yield fd
    finally:
        os.close(fd)


def _running_hash(upload, fd):
    """The SHA-256 of the part file's first ``upload.offset`` bytes, kept or read again."""
    with _hashers_lock:
        kept = _hashers.pop(upload.id, None)
    if kept is not None and kept[0] == upload.offset:
        return kept[1]
    digest = hashlib.sha256()
    os.lseek(fd, 0, os.SEEK_SET)
    left = upload.offset
    while left:
        chunk = os.read(fd, min(COPY_CHUNK, left))
        if not chunk:
            break
        digest.update(chunk)
        left -= len(chunk)
    return digest


def _keep_hash(upload_id, offset, digest):
    with _hashers_lock:
        _hashers[upload_id] = (offset, digest)
        while len(_hashers) > MAX_HASHERS:
            _hashers.popitem(last=False)


def append(upload, user, stream, offset, checksum=None):
    """Write the body at ``offset`` (which must be the upload's); return True if the
    connection was cut. ``checksum`` is ``(algorithm, digest bytes)``: on a mismatch the
    bytes are dropped (ChecksumMismatch). The last byte makes the attachment."""
    if offset != upload.offset:
        raise conflict(f"Upload-Offset is {offset}, but the upload is at {upload.offset}.")
    if upload.offset == upload.length:
        return False  # complete: its bytes are an attachment's now, and there is nothing to add
    with _exclusive(upload) as fd:
        db.session.refresh(upload)  # a PATCH that held the lock before us may have moved it
        if offset != upload.offset:
            raise conflict(f"Upload-Offset is {offset}, but the upload is at {upload.offset}.")
        # No transaction stays open while the body arrives (on SQLite it would hold the write lock).
        db.session.commit()
        os.ftruncate(fd, upload.offset)  # bytes of a process that died mid-PATCH are not counted
        running = _running_hash(upload, fd)
        before = running.copy() if checksum else None
        check = CHECKSUMS[checksum[0]]() if checksum else None
        written, cut = _copy(stream, fd, upload.offset, upload.length - upload.offset, running, check)
        if checksum and (cut or check.digest() != checksum[1]):
            os.ftruncate(fd, upload.offset)
            _keep_hash(upload.id, upload.offset, before)
            if cut:
                return True
            raise ChecksumMismatch()
        upload.offset += written
        db.session.commit()
        _keep_hash(upload.id, upload.offset, running)
        if upload.offset == upload.length and upload.attachment_id is None:
            _finish(upload, user, running.hexdigest())
        return cut


def _copy(stream, fd, position, room, *digests):
    """Copy ``stream`` into ``fd`` from ``position``, at most ``room`` bytes; return
    ``(bytes written, whether the connection was cut)``."""
    os.lseek(fd, position, os.SEEK_SET)
    written = 0
    try:
        while chunk := stream.read(COPY_CHUNK):
            if written + len(chunk) > room:
                raise Problem(413, "The body goes past Upload-Length.")
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]
            for digest in digests:
                if digest is not None:
                    digest.update(chunk)
            written += len(chunk)
    except (ClientDisconnected, ConnectionError, TimeoutError):
        return written, True
    return written, False


def _finish(upload, user, sha256):
    issue = db.session.get(Issue, upload.issue_id)
    service.require_member(issue, user)
    with _hashers_lock:
        _hashers.pop(upload.id, None)
    service.add_attachment(issue, user, upload.filename, storage().part_path(upload.id), upload.length, sha256,
                           upload=upload)


def terminate(upload):
    storage().delete_part(upload.id)
    db.session.delete(upload)
    db.session.commit()


def sweep_expired():
    """Delete uploads past their expiry (an unfinished one with its part file); return how many."""
    expired = db.session.scalars(select(Upload.id).where(Upload.expires_at <= utcnow())).all()
    for upload_id in expired:
        storage().delete_part(upload_id)
    if expired:
        db.session.execute(delete(Upload).where(Upload.id.in_(expired)))
    db.session.commit()
    return len(expired)
