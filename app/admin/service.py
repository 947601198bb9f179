"""Users as admins manage them, and the audit log.

An admin change that would leave no active administrator is refused (409), and an admin
cannot deactivate their own account (409: another admin must): Beacon always keeps a way in.
"""
from sqlalchemy import func, or_, select

from ..audit import record_audit
from ..auth import access_changes
from ..auth.tokens import revoke_user_tokens
from ..batches.service import cancel_user_batches
from ..errors import conflict, not_found
from ..extensions import db
from ..models import AuditEntry, User
from ..pagination import Key, paginate
from ..realtime import broadcast
from ..schemas import renderer
from ..versions import check_version
from .schemas import AuditOutput

# One audit action per field and direction, so the log can be filtered by what happened.
ACTIONS = {("active", False): "user.deactivated", ("active", True): "user.activated",
           ("is_admin", True): "user.admin_granted", ("is_admin", False): "user.admin_revoked"}


def list_users(args):
    query = select(User)
    if "active" in args:
        query = query.where(User.active.is_(args["active"]))
    if "is_admin" in args:
        query = query.where(User.is_admin.is_(args["is_admin"]))
    if args.get("q"):
        pattern = "%" + args["q"].lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(User.email.like(pattern, escape="\\"),
                                func.lower(User.name).like(pattern, escape="\\")))
    return paginate(query, [Key(User.id, lambda u: u.id)], args["limit"], args["cursor"])


def get_user(user_id):
    user = db.session.get(User, user_id)
    if user is None:
        raise not_found("user")
    return user


def update_user(actor, user_id, changes, expected_version=None):
    """Change ``is_admin`` and/or ``active``; deactivating revokes the user's tokens and
    cancels their unfinished batches and, after the commit, closes their sockets on every
    server process; a changed admin flag is applied to their open sockets."""
    # Lock the active admins first (PostgreSQL; SQLite's write transaction is already
    # exclusive), so two admins demoting each other at once cannot leave none.
    admins = set(db.session.scalars(select(User.id).where(User.is_admin.is_(True), User.active.is_(True))
                                    .with_for_update()))
    user = get_user(user_id)
    db.session.refresh(user)
    check_version(user.version, expected_version)
    diff = {field: [getattr(user, field), value] for field, value in changes.items() if getattr(user, field) != value}
    if diff.get("active") == [True, False] and user.id == actor.id:
        raise conflict("You cannot deactivate your own account; another administrator can.")
    stays_admin = changes.get("is_admin", user.is_admin) and changes.get("active", user.active)
    if user.id in admins and not stays_admin and admins == {user.id}:
        raise conflict("This is the last active administrator; make another one first.")
    for field, (_old, new) in diff.items():
        setattr(user, field, new)
        record_audit(actor.id, ACTIONS[(field, new)], "user", user.id, {"email": user.email, field: [_old, new]})
        access_changes.record_flag(user.id, field, new)  # so that a restore does not undo it
    deactivated = diff.get("active") == [True, False]
    if deactivated:
        revoke_user_tokens(user.id)
        cancel_user_batches(user.id)
    db.session.commit()
    if deactivated:
        broadcast.user_deactivated(user.id)
    elif "is_admin" in diff:
        broadcast.admin_changed(user.id)
    return user


audit_dict = renderer(AuditOutput, data=lambda entry: entry.data or {})  # an audit entry as responses show it


def list_audit(args):
    """The audit log, newest first; ``action`` ending in ``.`` matches a prefix (``user.``)."""
    query = select(AuditEntry)
    action = args.get("action")
    if action and action.endswith("."):
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    elif action:
        query = query.where(AuditEntry.action == action)
    if "actor_id" in args:
        query = query.where(AuditEntry.actor_id == args["actor_id"])
    if "target_type" in args:
        query = query.where(AuditEntry.target_type == args["target_type"])
    if "target_id" in args:
        query = query.where(AuditEntry.target_id == args["target_id"])
    return paginate(query, [Key(AuditEntry.id, lambda e: e.id, descending=True)], args["limit"], args["cursor"])
