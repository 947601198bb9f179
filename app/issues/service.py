"""Issues: create, change, delete and list. Each change writes its event.

The functions take ``commit=False`` so that batches can run them inside their own
transaction; the REST routes let them commit.
"""
from sqlalchemy import case, exists, func, or_, select

from ..auth.permissions import content_stamp, load_readable, require_project_role
from ..errors import not_found, validation_error
from ..events.service import record_event, reserve_seqs
from ..extensions import db
from ..http import check_version
from ..models import Attachment, Comment, Event, Issue, IssueLabel, IssueStatusChange, Membership, Project
from ..models.base import isoformat, utcnow
from ..models.issues import DONE_STATUSES, PRIORITIES
from ..pagination import Key, paginate

READ_TRIES = 3  # reads of a list before giving up on naming the seq it shows

PRIORITY_RANK = {name: rank for rank, name in enumerate(PRIORITIES)}
priority_rank = case(PRIORITY_RANK, value=Issue.priority)
FIELDS = ("title", "description", "status", "priority", "assignee_id", "labels")


def issue_dict(issue, project_key):
    return {
        "id": issue.id, "key": f"{project_key}-{issue.number}", "number": issue.number,
        "project": project_key, "title": issue.title, "description": issue.description,
        "status": issue.status, "priority": issue.priority, "assignee_id": issue.assignee_id,
        "reporter_id": issue.reporter_id, "labels": issue.labels,
        "created_at": isoformat(issue.created_at), "updated_at": isoformat(issue.updated_at),
        "resolved_at": isoformat(issue.resolved_at), "version": issue.version,
    }


def check_assignee(project_id, assignee_id):
    """An assignee must be a member of the project."""
    if assignee_id is None:
        return
    member = db.session.get(Membership, (project_id, assignee_id))
    if member is None:
        raise validation_error({"assignee_id": ["The assignee must be a member of the project."]})


def normalize_labels(labels):
    return sorted({label.strip() for label in labels if label.strip()})


def resolved_at_after(issue, new_status, now):
    """When an issue counts as resolved: set on entering resolved/closed, cleared on reopening."""
    if new_status in DONE_STATUSES:
        return issue.resolved_at or now
    return None


def create_issue(project, user, data, *, commit=True):
    require_project_role(project, user, "member")
    check_assignee(project.id, data.get("assignee_id"))
    now = utcnow()
    status = data.get("status", "open")
    seq, number = reserve_seqs(project.id, issue_numbers=1)
    issue = Issue(
        project_id=project.id, number=number, title=data["title"],
        description=data.get("description", ""), status=status,
        priority=data.get("priority", "medium"), assignee_id=data.get("assignee_id"),
        reporter_id=user.id, created_at=now, updated_at=now,
        resolved_at=now if status in DONE_STATUSES else None,
    )
    issue.label_rows = [IssueLabel(name=name) for name in normalize_labels(data.get("labels", []))]
    db.session.add(issue)
    db.session.flush()
    db.session.add(IssueStatusChange(issue_id=issue.id, project_id=project.id, from_status=None,
                                     to_status=status, at=now, actor_id=user.id))
    record_event(project, "issue.created", user.id, {"issue": issue_dict(issue, project.key)}, seq)
    if commit:
        db.session.commit()
    return issue


def update_issue(issue, user, changes, expected_version=None, *, commit=True):
    project = issue.project
    require_project_role(project, user, "member")
    check_version(issue.version, expected_version)
    if "labels" in changes:
        changes = {**changes, "labels": normalize_labels(changes["labels"])}
    diff = {f: [getattr(issue, f), v] for f, v in changes.items() if getattr(issue, f) != v}
    if "assignee_id" in diff:
        check_assignee(project.id, changes["assignee_id"])
    if diff:
        now = utcnow()
        if "status" in diff:
            old, new = diff["status"]
            issue.resolved_at = resolved_at_after(issue, new, now)
            db.session.add(IssueStatusChange(issue_id=issue.id, project_id=project.id, from_status=old,
                                             to_status=new, at=now, actor_id=user.id))
        for field, (_old, new) in diff.items():
            if field == "labels":
                issue.label_rows = [IssueLabel(name=name) for name in new]
            else:
                setattr(issue, field, new)
        issue.updated_at = now
        db.session.flush()  # bumps version (version_id_col)
        record_event(project, "issue.updated", user.id, {"issue": issue_dict(issue, project.key), "changes": diff})
    if commit:
        db.session.commit()
    return issue


def delete_issue(issue, user, *, commit=True):
    project = issue.project
    require_project_role(project, user, "maintainer")
    record_event(project, "issue.deleted", user.id, {"issue": issue_dict(issue, project.key)})
    db.session.delete(issue)
    db.session.flush()
    if commit:
        db.session.commit()


def load_issue(issue_id, user, *, for_update=False):
    return load_readable(Issue, issue_id, user, for_update=for_update)


def checked_issue(issue_id):
    """The issue whose reader's access ``issue_access`` has checked; 404 if it is gone since."""
    issue = db.session.get(Issue, issue_id)
    if issue is None:
        raise not_found("issue")
    return issue


def _sort_keys(sort):
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name == "priority":
        first = Key(priority_rank, lambda i: PRIORITY_RANK[i.priority], descending)
    else:
        column = getattr(Issue, name)
        first = Key(column, lambda i: getattr(i, name), descending)
    return [first, Key(Issue.id, lambda i: i.id, descending)]


def escape_like(text):
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_issues(project, args):
    query = select(Issue).where(Issue.project_id == project.id)
    for field in ("status", "priority", "assignee_id"):
        if args.get(field) is not None:
            query = query.where(getattr(Issue, field) == args[field])
    if args.get("label"):
        query = query.where(exists().where(IssueLabel.issue_id == Issue.id, IssueLabel.name == args["label"]))
    if args.get("q"):
        pattern = f"%{escape_like(args['q'])}%"
        query = query.where(or_(Issue.title.ilike(pattern, escape="\\"),
                                Issue.description.ilike(pattern, escape="\\")))
    return paginate(query, _sort_keys(args["sort"]), args["limit"], args["cursor"])


def comment_counts(issue_ids):
    """``{issue id: number of comments}`` for these issues (one grouped query; none: absent)."""
    return _counts(Comment, issue_ids)


def attachment_counts(issue_ids):
    """``{issue id: number of attachments}`` (rejected files not counted)."""
    return _counts(Attachment, issue_ids, Attachment.status != "rejected")


def _counts(model, issue_ids, *conditions):
    if not issue_ids:
        return {}
    rows = db.session.execute(select(model.issue_id, func.count()).where(model.issue_id.in_(issue_ids), *conditions)
                              .group_by(model.issue_id))
    return dict(rows.all())


def read_at_one_seq(project, read):
    """``(read(), seq)``: what ``read`` returned and the project's seq it shows, or None for
    the seq when changes kept landing while it read.

    PostgreSQL reads each statement at its own snapshot (reads run without a transaction,
    ``database.py``), so a list alone cannot say which changes it holds. Every change to a
    project's content moves its stamp in the same transaction, so rows read between two
    equal stamps show exactly that seq: a board then applies only the events after it.
    """
    for _ in range(READ_TRIES):
        before = content_stamp(project, fresh=True)
        value = read()
        if content_stamp(project, fresh=True) == before:
            return value, before[0]
    return value, None


def issue_events(issue_id, project_id, limit, cursor):
    """A page of the events that name an issue (its own and its comments'), oldest first.

    Events keep the issue in their data (``issue.id``, or ``issue_id`` for comments), not
    in a column; none is older than the issue, so only the project's events since the
    issue was created are read (``ix_events_project_at``).
    """
    created_at = select(Issue.created_at).where(Issue.id == issue_id).scalar_subquery()
    names_issue = or_(Event.data[("issue", "id")].as_integer() == issue_id,
                      Event.data["issue_id"].as_integer() == issue_id)
    query = select(Event).where(Event.project_id == project_id, Event.at >= created_at, names_issue)
    return paginate(query, [Key(Event.seq, lambda e: e.seq)], limit, cursor)
