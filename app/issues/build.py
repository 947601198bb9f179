"""What a new issue is, and what a change of status writes: built here once for every path
that makes or changes issues (the REST service one at a time, batches in bulk, GraphQL).

Plain values in, plain row values out, so one caller can hand them to the ORM and another
to a bulk ``INSERT`` without either describing an issue its own way.
"""
from ..models.issues import DONE_STATUSES


def normalize_labels(labels):
    """Labels as stored: trimmed, blank ones dropped, each once, sorted."""
    return sorted({label.strip() for label in labels if label.strip()})


def resolved_at_after(resolved_at, new_status, now):
    """When an issue counts as resolved: set on entering resolved/closed (kept if it was
    already), cleared on reopening."""
    if new_status in DONE_STATUSES:
        return resolved_at or now
    return None


def new_issue(project_id, number, reporter_id, data, now):
    """``(columns, labels)`` of a new issue from its input ``data`` (``title`` and any of
    ``description, status, priority, assignee_id, labels``): open and medium unless told
    otherwise, resolved now if it starts resolved or closed."""
    status = data.get("status", "open")
    columns = {
        "project_id": project_id, "number": number, "title": data["title"],
        "description": data.get("description", ""), "status": status,
        "priority": data.get("priority", "medium"), "assignee_id": data.get("assignee_id"),
        "reporter_id": reporter_id, "created_at": now, "updated_at": now,
        "resolved_at": resolved_at_after(None, status, now), "version": 1,
    }
    return columns, normalize_labels(data.get("labels", []))


def status_change(issue_id, project_id, from_status, to_status, now, actor_id):
    """The ``issue_status_changes`` row of one transition (creation: from None)."""
    return {"issue_id": issue_id, "project_id": project_id, "from_status": from_status,
            "to_status": to_status, "at": now, "actor_id": actor_id}
