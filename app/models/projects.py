"""Projects and memberships."""
from ..extensions import db
from .base import utcnow

ROLES = ("viewer", "member", "maintainer")


class Project(db.Model):
    __tablename__ = "projects"

    id = db.Column(db.Integer, primary_key=True)
    key = db.Column(db.String(10), nullable=False, unique=True)
    name = db.Column(db.String(100), nullable=False)
    description = db.Column(db.Text, nullable=False, default="")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    version = db.Column(db.Integer, nullable=False, default=1)
    # Counters bumped with UPDATE ... RETURNING: the row lock serializes writers, and a
    # rollback undoes the bump, so numbers and seqs never collide and never skip.
    last_issue_number = db.Column(db.Integer, nullable=False, default=0)
    last_event_seq = db.Column(db.BigInteger, nullable=False, default=0)


class Membership(db.Model):
    __tablename__ = "memberships"

    project_id = db.Column(db.Integer, db.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    role = db.Column(db.String(16), nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    user = db.relationship("User")
