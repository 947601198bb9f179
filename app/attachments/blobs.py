"""Blobs: the stored files, one per distinct SHA-256, freed when nothing refers to them.

The rule that keeps a file from vanishing under an attachment: whoever makes an
attachment on a blob, and whoever frees a blob, first holds the blob's row (inserted if
missing, then ``SELECT ... FOR UPDATE``) until its transaction ends. The maker puts the
file in place if it is missing; the freer deletes the file only when no attachment
refers to the blob. So a freer that waits behind a maker sees the new reference, and a
maker that waits behind a freer finds the row (or makes it again) and puts the file back.
"""
from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import Attachment, Blob
from ..models.base import utcnow
from .storage import storage

INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def hold_blob(sha256, size, content_type):
    """The blob row of ``sha256``, made if missing, locked for the rest of the transaction
    (one statement when it exists, as for every deduplicated upload)."""
    locked = select(Blob).where(Blob.sha256 == sha256).with_for_update().execution_options(populate_existing=True)
    blob = db.session.scalar(locked)
    if blob is None:
        insert = INSERTS[db.session.get_bind().dialect.name]
        db.session.execute(insert(Blob).values(sha256=sha256, size=size, content_type=content_type,
                                               created_at=utcnow()).on_conflict_do_nothing(index_elements=["sha256"]))
        blob = db.session.scalar(locked)
    return blob


def store_blob(sha256, size, content_type, source):
    """Hold the blob and make ``source`` (a finished file) its file, or drop ``source``
    when the blob's file is there already (the same bytes are stored once)."""
    blob = hold_blob(sha256, size, content_type)
    storage().adopt(sha256, source)
    return blob


def references(sha256):
    return db.session.scalar(select(func.count()).select_from(Attachment)
                             .where(Attachment.sha256 == sha256, Attachment.status != "rejected"))


def release_blob(sha256):
    """Free the blob ``sha256`` if no attachment refers to it any more (own transaction)."""
    blob = db.session.scalar(select(Blob).where(Blob.sha256 == sha256).with_for_update())
    if blob is not None and references(sha256) == 0:
        storage().delete_blob(sha256)
        db.session.execute(delete(Blob).where(Blob.sha256 == sha256))
    db.session.commit()


def release_unreferenced():
    """Free every blob nothing refers to (after a process died between a delete and its release)."""
    referenced = select(Attachment.sha256).where(Attachment.status != "rejected")
    orphans = db.session.scalars(select(Blob.sha256).where(Blob.sha256.not_in(referenced))).all()
    db.session.rollback()
    for sha256 in orphans:
        release_blob(sha256)
    return len(orphans)
