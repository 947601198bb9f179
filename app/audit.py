"""Append entries to the audit log in the caller's transaction.

``record_audit`` is told who acted and what they did; the request id it keeps is the
request being served (``ops/request_id.py``) unless the caller passes one. Nothing else is
read from Flask, so routes, RQ jobs, the CLI and a GraphQL layer call it alike.
"""
from .extensions import db
from .models import AuditEntry
from .ops.request_id import current_request_id


def record_audit(actor_id, action, target_type=None, target_id=None, data=None, *, request_id=None):
    """Add an entry to the session (the caller commits); ``request_id`` defaults to the
    current request's, and is None outside a request."""
    entry = AuditEntry(actor_id=actor_id, action=action, target_type=target_type,
                       target_id=None if target_id is None else str(target_id), data=data or {},
                       request_id=current_request_id() if request_id is None else request_id)
    db.session.add(entry)
    return entry
