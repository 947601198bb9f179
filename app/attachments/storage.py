"""Where attachment bytes live: content-addressed blob files and tus part files.

A blob's file is named by the SHA-256 of its bytes (``blobs/ab/cd/<sha256>``), so the same
bytes are one file whoever uploads them. An upload's bytes arrive in a part file of its
own (``uploads/<id>``), appended as they come and never held in memory; the finished
part file is renamed into place (same file system: no copy). Only ``file:`` storage is
built; ``ATTACHMENT_STORAGE=s3://...`` is refused when the app starts rather than
silently storing elsewhere.
"""
import hashlib
import os
import tempfile
from pathlib import Path

from flask import current_app

from ..extensions import per_app

COPY_CHUNK = 1024 * 1024


class FileStorage:
    def __init__(self, root):
        self.root = Path(root)
        for folder in ("blobs", "thumbnails", "uploads", "tmp"):
            (self.root / folder).mkdir(parents=True, exist_ok=True, mode=0o700)

    def blob_path(self, sha256):
        return self.root / "blobs" / sha256[:2] / sha256[2:4] / sha256

    def thumbnail_path(self, sha256):
        """The thumbnail made from blob ``sha256`` (its own folder: never mistaken for a blob)."""
        return self.root / "thumbnails" / sha256[:2] / f"{sha256}.png"

    def part_path(self, upload_id):
        return self.root / "uploads" / upload_id

    def has_blob(self, sha256):
        return self.blob_path(sha256).is_file()

    def adopt(self, sha256, source):
        """Make the file at ``source`` the blob ``sha256`` (dropping it if the blob exists)."""
        target = self.blob_path(sha256)
        if target.is_file():
            os.unlink(source)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)

    def put_bytes(self, data):
        """Store ``data`` (a thumbnail, a restored blob) as a blob; return its SHA-256."""
        sha256 = hashlib.sha256(data).hexdigest()
        if not self.has_blob(sha256):
            handle, temporary = tempfile.mkstemp(dir=self.root / "tmp")
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            self.adopt(sha256, temporary)
        return sha256

    def temporary_file(self):
        """An open temporary file in the storage's file system (renamed into a blob later)."""
        return tempfile.NamedTemporaryFile(dir=self.root / "tmp", delete=False)

    def put_thumbnail(self, sha256, data):
        path = self.thumbnail_path(sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.temporary_file() as out:
            out.write(data)
        os.replace(out.name, path)

    def delete_blob(self, sha256):
        """Delete a blob's file and its thumbnail."""
        for path in (self.blob_path(sha256), self.thumbnail_path(sha256)):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def delete_part(self, upload_id):
        try:
            os.unlink(self.part_path(upload_id))
        except FileNotFoundError:
            pass


def storage(app=None):
    """The app's attachment storage, from ``ATTACHMENT_STORAGE``."""
    app = app or current_app

    def make():
        setting = app.config["ATTACHMENT_STORAGE"]
        scheme, _, location = setting.partition(":")
        if scheme != "file" or not location:
            raise ValueError(f"ATTACHMENT_STORAGE={setting!r}: only file:<folder> storage is available")
        return FileStorage(location)

    return per_app(app, "beacon_attachment_storage", make)


def file_sha256(path):
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(COPY_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
