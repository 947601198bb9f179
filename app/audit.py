"""Append entries to the audit log in the caller's transaction."""
from flask import g, has_request_context

from .extensions import db
from .models import AuditEntry


def record_audit(actor_id, action, target_type=None, target_id=None, data=None):
    request_id = g.get("request_id") if has_request_context() else None
    entry = AuditEntry(actor_id=actor_id, action=action, target_type=target_type,
                       target_id=None if target_id is None else str(target_id),
                       data=data or {}, request_id=request_id)
    db.session.add(entry)
    return entry
