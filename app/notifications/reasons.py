"""What a change of the feed means for whom: the reasons an event gives to notify.

Pure functions of one event (no database): ``reasons(event)`` says who is asked for by
name (the new assignee, the handles mentioned), who becomes a watcher by taking part,
and what the issue's watchers are told. ``fanout`` then looks up handles, watchers and
who may read the project, and picks one notification per user: the first of
``NOTIFICATION_TYPES`` among their reasons.
"""
from dataclasses import dataclass, field

from ..models.notifications import NOTIFICATION_TYPES
from .mentions import mentioned_handles

RANK = {name: rank for rank, name in enumerate(NOTIFICATION_TYPES)}


@dataclass
class Reasons:
    event_id: int
    at: str
    project: str
    actor_id: int | None
    issue_id: int
    issue_key: str | None  # None: comments' events do not carry it, ``fanout`` reads it
    created: bool = False  # the event made the issue: it has no watchers yet
    assigned: int | None = None
    handles: list = field(default_factory=list)
    new_mentions_only: bool = False  # an edited comment: only who was not a watcher already
    joins: set = field(default_factory=set)  # take part, so watch from now on
    watchers_told: str | None = None  # the type the issue's watchers get, if any


def reasons(event):
    """The ``Reasons`` of one event payload, or None when it notifies no one."""
    data, kind = event["data"], event["type"]
    base = {"event_id": event["id"], "at": event["at"], "project": event["project"], "actor_id": event["actor_id"]}
    if kind == "issue.created":
        issue = data["issue"]
        assignee = issue["assignee_id"]
        return Reasons(**base, issue_id=issue["id"], issue_key=issue["key"], created=True, assigned=assignee,
                       handles=mentioned_handles(issue["description"]),
                       joins={user for user in (issue["reporter_id"], assignee) if user is not None})
    if kind == "issue.updated":
        issue, changes = data["issue"], data["changes"]
        assignee = changes.get("assignee_id", [None, None])[1]
        handles = []
        if "description" in changes:
            before = set(mentioned_handles(changes["description"][0]))
            handles = [h for h in mentioned_handles(changes["description"][1]) if h not in before]
        return Reasons(**base, issue_id=issue["id"], issue_key=issue["key"], assigned=assignee, handles=handles,
                       joins={assignee} if assignee is not None else set(),
                       watchers_told="status_changed" if "status" in changes else "updated")
    if kind == "comment.created":
        return Reasons(**base, issue_id=data["issue_id"], issue_key=None,
                       handles=mentioned_handles(data["comment"].get("body", "")),
                       joins={event["actor_id"]} if event["actor_id"] is not None else set(),
                       watchers_told="commented")
    if kind == "comment.updated":
        handles = mentioned_handles(data["comment"].get("body", ""))
        if not handles:
            return None
        return Reasons(**base, issue_id=data["issue_id"], issue_key=None, handles=handles, new_mentions_only=True)
    return None


def pick(current, candidate):
    """The notification type of a user with reasons ``current`` (or None) and ``candidate``."""
    if current is None or RANK[candidate] < RANK[current]:
        return candidate
    return current
