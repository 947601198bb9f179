"""The backup catalog: a mirror of the manifests in the backup repository."""
from ..extensions import db
from .base import utcnow


class Backup(db.Model):
    __tablename__ = "backups"

    id = db.Column(db.String(40), primary_key=True)
    status = db.Column(db.String(16), nullable=False, default="queued")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    completed_at = db.Column(db.DateTime)
    schema_revision = db.Column(db.String(64))
    engine = db.Column(db.String(32))
    tables = db.Column(db.JSON, nullable=False, default=dict)
    size_bytes = db.Column(db.BigInteger, nullable=False, default=0)
    new_bytes = db.Column(db.BigInteger, nullable=False, default=0)
    sha256 = db.Column(db.String(64))
    encrypted = db.Column(db.Boolean, nullable=False, default=False)
    note = db.Column(db.String(500))
    verified_at = db.Column(db.DateTime)
    error = db.Column(db.Text)
    duration_ms = db.Column(db.Integer)
    job_id = db.Column(db.String(64))
