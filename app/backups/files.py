"""Attachment files in backups: each blob's bytes (and its thumbnail) as whole chunks of
the repository, listed in the manifest's ``blobs``.

A blob is named by its SHA-256 and never changes, so a blob the previous backup holds is
not read again: its entry is reused (after checking its chunks are still there), and a
backup after adding a 10 MB file writes about 10 MB while the next one writes none of it.
Pieces are cut at fixed offsets and sealed deterministically, so the same bytes make the
same chunks whoever stored them. Verify reads every piece back and checks the SHA-256 of
the whole; restore puts back the files the storage lacks, before the rows that name them.
"""
import hashlib
import os

import zstandard
from sqlalchemy import select

from ..attachments.storage import storage
from ..models import Blob
from .configured import BackupError
from .crypto import BackupIntegrityError
from .reader import chunk_body
from .repository import RepositoryError

PIECE_BYTES = 4 * 1024 * 1024


def write_blobs(connection, writer, previous):
    """Write the chunks of every blob the snapshot's rows name; return the manifest's list."""
    known = previous.blobs if previous else {}
    entries = []
    for sha256, size, thumbnail in connection.execute(
            select(Blob.sha256, Blob.size, Blob.thumbnail_sha256).order_by(Blob.sha256)).all():
        entry = known.get(sha256)
        if entry is None or entry.get("thumbnail_sha256") != thumbnail or not _all_present(writer.repository, entry):
            entry = {"sha256": sha256, "size": size, "pieces": _write_file(writer, storage().blob_path(sha256), sha256)}
            if thumbnail:
                entry["thumbnail_sha256"] = thumbnail
                entry["thumbnail"] = _write_file(writer, storage().thumbnail_path(sha256), sha256)
        entries.append(entry)
    return entries


def _all_present(repository, entry):
    return all(repository.has_chunk(piece["hash"]) for piece in entry["pieces"] + entry.get("thumbnail", []))


def _write_file(writer, path, sha256):
    try:
        with open(path, "rb") as handle:
            return [writer.write_whole(piece) for piece in iter(lambda: handle.read(PIECE_BYTES), b"")]
    except FileNotFoundError:
        raise BackupError(f"the file of attachment blob {sha256} is missing from the attachment storage") from None


def piece_hashes(manifest):
    """Every chunk the manifest's blobs need."""
    return {piece["hash"] for entry in manifest.get("blobs", [])
            for piece in entry["pieces"] + entry.get("thumbnail", [])}


def _read_pieces(repository, sealer, manifest, pieces, where):
    for piece in pieces:
        try:
            yield chunk_body(repository, sealer, manifest.get("encrypted"), piece["hash"])
        except (RepositoryError, BackupIntegrityError) as error:
            raise BackupIntegrityError(f"{where} chunk {piece['hash']}: {error}") from None
        except zstandard.ZstdError as error:
            raise BackupIntegrityError(f"{where} chunk {piece['hash']}: cannot be decompressed "
                                       f"({type(error).__name__})") from None


def check_blobs(repository, sealer, manifest, out=None):
    """Read every blob back and check its SHA-256 and size (raise BackupIntegrityError);
    with ``out(sha256)`` -> an open file or None, also write each blob's bytes there."""
    for entry in manifest.get("blobs", []):
        where = f"attachment blob {entry['sha256']}"
        digest, size = hashlib.sha256(), 0
        target = out(entry) if out else None
        try:
            for body in _read_pieces(repository, sealer, manifest, entry["pieces"], where):
                digest.update(body)
                size += len(body)
                if target is not None:
                    target.write(body)
        finally:
            if target is not None:
                target.close()
        if digest.hexdigest() != entry["sha256"] or size != entry["size"]:
            raise BackupIntegrityError(f"{where}: its bytes do not match its SHA-256")


def restore_files(repository, sealer, manifest):
    """Put back the blobs (and thumbnails) the attachment storage lacks; return how many."""
    files = storage()
    missing = [entry for entry in manifest.get("blobs", []) if not files.has_blob(entry["sha256"])]
    temporaries = {}

    def out(entry):
        if entry["sha256"] not in {m["sha256"] for m in missing}:
            return None
        temporaries[entry["sha256"]] = handle = files.temporary_file()
        return handle

    try:
        check_blobs(repository, sealer, {**manifest, "blobs": missing}, out)
    except BaseException:
        for handle in temporaries.values():
            os.unlink(handle.name)
        raise
    for entry in missing:
        files.adopt(entry["sha256"], temporaries[entry["sha256"]].name)
    for entry in manifest.get("blobs", []):
        if "thumbnail" in entry and not files.thumbnail_path(entry["sha256"]).exists():
            where = f"thumbnail of attachment blob {entry['sha256']}"
            files.put_thumbnail(entry["sha256"], b"".join(_read_pieces(repository, sealer, manifest,
                                                                      entry["thumbnail"], where)))
    return len(missing)
