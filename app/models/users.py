"""Users, their API tokens, and the changes of their access that outlive restores."""
from ..extensions import db
from ..users.handles import handle_default
from .base import BigId, utcnow

EMAIL_NOTIFICATIONS = ("off", "digest", "instant")


class User(db.Model):
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(254), nullable=False, unique=True)  # stored lower-cased
    name = db.Column(db.String(100), nullable=False)
    # unique regardless of case: stored lower-cased; taken from the e-mail when not given
    handle = db.Column(db.String(32), nullable=False, unique=True, default=handle_default)
    email_notifications = db.Column(db.String(8), nullable=False, default="digest", server_default="digest")
    password_hash = db.Column(db.String(256), nullable=False)
    is_admin = db.Column(db.Boolean, nullable=False, default=False)
    active = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    version = db.Column(db.Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    expires_at = db.Column(db.DateTime, nullable=False)
    revoked_at = db.Column(db.DateTime)

    user = db.relationship(User)


class AccessChange(db.Model):
    """One sign-out, revocation, deactivation, reactivation or change of admin rights.

    Kept through restores, as the audit log is: a restore re-applies the ones made after
    its backup (``auth/access_changes.py``).
    """
    __tablename__ = "access_changes"

    id = db.Column(BigId, primary_key=True)
    at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)
    user_id = db.Column(db.Integer, nullable=False)  # no foreign key: the row outlives users and restores
    change = db.Column(db.String(32), nullable=False)
    token_hash = db.Column(db.String(64))  # the token a sign-out revoked
