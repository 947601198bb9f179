"""The audit log's request id: the request being served, or what the caller passes (a job,
the CLI or GraphQL calls ``record_audit`` as a route does)."""
from flask import g

from app.audit import record_audit
from app.extensions import db
from app.models import AuditEntry
from app.ops.request_id import current_request_id


def test_record_audit_keeps_the_request_id_it_is_given(app):
    entry = record_audit(7, "backup.create", "backup", "20261122T142301Z-3f9a", {"status": "verified"},
                         request_id="req-from-the-caller")
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(AuditEntry, entry.id)
    assert (stored.actor_id, stored.action, stored.target_id, stored.request_id) == (
        7, "backup.create", "20261122T142301Z-3f9a", "req-from-the-caller")


def test_the_request_id_is_the_request_being_served_and_none_outside_one(app):
    with app.test_request_context("/api/v1/admin/users"):
        g.request_id = "req-42"
        assert current_request_id() == "req-42"
        inside = record_audit(1, "user.created", "user", 2)
    g.request_id = "left-over"  # g belongs to the app context, which outlives a request
    outside = record_audit(1, "user.created", "user", 3)
    db.session.commit()
    assert (inside.request_id, outside.request_id, current_request_id()) == ("req-42", None, None)
