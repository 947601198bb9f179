"""Attachments of issues, the content-addressed blobs they point to, and tus uploads.

A blob is one stored file, named by the SHA-256 of its bytes; attachments refer to it
by that hash, so the same bytes are stored once whoever uploads them. A blob row is
locked while an attachment is made on it or while it is freed, which is what keeps a
file from being deleted under a new attachment (see ``attachments/blobs.py``).
"""
from ..extensions import db
from .base import utcnow

STATUSES = ("processing", "ready", "rejected")


class Blob(db.Model):
    __tablename__ = "blobs"

    sha256 = db.Column(db.String(64), primary_key=True)
    size = db.Column(db.BigInteger, nullable=False)
    content_type = db.Column(db.String(127), nullable=False)
    thumbnail_sha256 = db.Column(db.String(64))  # a PNG, stored as a blob file of its own
    preview = db.Column(db.JSON)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)


class Attachment(db.Model):
    __tablename__ = "attachments"
    __table_args__ = (
        db.Index("ix_attachments_issue_created", "issue_id", "created_at", "id"),
        db.Index("ix_attachments_sha256", "sha256"),
    )

    id = db.Column(db.Integer, primary_key=True)
    issue_id = db.Column(db.Integer, db.ForeignKey("issues.id", ondelete="CASCADE"), nullable=False)
    project_id = db.Column(db.Integer, db.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True)
    uploader_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    filename = db.Column(db.String(255), nullable=False)
    content_type = db.Column(db.String(127), nullable=False)
    size = db.Column(db.BigInteger, nullable=False)
    sha256 = db.Column(db.String(64), nullable=False)
    status = db.Column(db.String(16), nullable=False, default="processing")
    reason = db.Column(db.String(255))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    issue = db.relationship("Issue")
    blob = db.relationship("Blob", primaryjoin="foreign(Attachment.sha256) == Blob.sha256", viewonly=True,
                           lazy="joined")


class Upload(db.Model):
    """A tus upload: the bytes arrive in ``storage``'s part file; this row says how many."""

    __tablename__ = "uploads"

    id = db.Column(db.String(32), primary_key=True)  # random: an upload's URL is not guessable
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    issue_id = db.Column(db.Integer, db.ForeignKey("issues.id", ondelete="CASCADE"), nullable=False)
    project_id = db.Column(db.Integer, db.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True)
    filename = db.Column(db.String(255), nullable=False)
    length = db.Column(db.BigInteger, nullable=False)
    offset = db.Column(db.BigInteger, nullable=False, default=0)
    metadata_header = db.Column(db.Text, nullable=False, default="")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    expires_at = db.Column(db.DateTime, nullable=False, index=True)
    attachment_id = db.Column(db.Integer, db.ForeignKey("attachments.id", ondelete="SET NULL"))
