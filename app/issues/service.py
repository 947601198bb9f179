"""Issues: create, change, delete and list. Each change writes its event.

The functions take ``commit=False`` so that batches can run them inside their own
transaction; the REST routes let them commit.
"""
from sqlalchemy import case, exists, func, or_, select

from ..auth.permissions import content_stamp, load_readable, require_project_role
from ..errors import not_found, validation_error
from ..events.service import record_event, reserve_seqs
from ..extensions import db
from ..models import Attachment, Comment, Event, Issue, IssueLabel, IssueStatusChange, Membership, Project
from ..models.base import utcnow
from ..models.issues import PRIORITIES
from ..pagination import Key, paginate
from ..schemas import renderer
from ..versions import check_version
from .build import new_issue, normalize_labels, resolved_at_after, status_change
from .schemas import IssueOutput

READ_TRIES = 3  # reads of a list before giving up on naming the seq it shows

PRIORITY_RANK = {name: rank for rank, name in enumerate(PRIORITIES)}
priority_rank = case(PRIORITY_RANK, value=Issue.priority)
FIELDS = ("title", "description", "status", "priority", "assignee_id", "labels")


# ``issue_dict(issue, project_key)``: an issue as responses and events show it.
issue_dict = renderer(IssueOutput, ("project_key",), key=lambda issue, project_key: f"{project_key}-{issue.number}",
                      project=lambda issue, project_key: project_key)


def check_assignee(project_id, assignee_id):
    """An assignee must be a member of the project."""
    if assignee_id is None:
        return
    member = db.session.get(Membership, (project_id, assignee_id))
    if member is None:
        raise validation_error({"assignee_id": ["The assignee must be a member of the project."]})


def check_new_issue(project, user, data):
    """Raise unless ``user`` may create this issue in ``project`` (a member, and an assignee
    who is one too)."""
    require_project_role(project, user, "member")
    check_assignee(project.id, data.get("assignee_id"))


def created_event(issue, project_key, actor_id):
    """The ``(type, actor, data)`` of a new issue's event, for ``record_event(s)``."""
    return "issue.created", actor_id, {"issue": issue_dict(issue, project_key)}


def create_issue(project, user, data, *, commit=True):
    """Create an issue in ``project`` from its input ``data`` (see ``build.new_issue``)."""
    check_new_issue(project, user, data)
    now = utcnow()
    seq, number = reserve_seqs(project.id, issue_numbers=1)
    columns, labels = new_issue(project.id, number, user.id, data, now)
    issue = Issue(**columns)
    issue.label_rows = [IssueLabel(name=name) for name in labels]
    db.session.add(issue)
    db.session.flush()
    db.session.add(IssueStatusChange(**status_change(issue.id, project.id, None, issue.status, now, user.id)))
    record_event(project, *created_event(issue, project.key, user.id), seq)
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
            issue.resolved_at = resolved_at_after(issue.resolved_at, new, now)
            db.session.add(IssueStatusChange(**status_change(issue.id, project.id, old, new, now, user.id)))
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
    """The issue whose reader's access ``caller_access`` has checked; 404 if it is gone since."""
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


def list_issues(project_id, args):
    """A page of a project's issues, filtered and sorted as ``IssueListArgs`` says."""
    return paginate(issue_query(project_id, args), _sort_keys(args["sort"]), args["limit"], args["cursor"])


def count_issues(project_id, args):
    """How many issues ``list_issues`` pages through with these filters."""
    return db.session.scalar(select(func.count()).select_from(issue_query(project_id, args).subquery()))


def issue_query(project_id, args):
    """The select of a project's issues that match the filters of ``args`` (unordered)."""
    query = select(Issue).where(Issue.project_id == project_id)
    for field in ("status", "priority", "assignee_id"):
        if args.get(field) is not None:
            query = query.where(getattr(Issue, field) == args[field])
    if args.get("label"):
        query = query.where(exists().where(IssueLabel.issue_id == Issue.id, IssueLabel.name == args["label"]))
    if args.get("q"):
        pattern = f"%{escape_like(args['q'])}%"
        query = query.where(or_(Issue.title.ilike(pattern, escape="\\"),
                                Issue.description.ilike(pattern, escape="\\")))
    return query


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


def read_at_one_seq(project_id, read):
    """``(read(), seq)``: what ``read`` returned and the project's seq it shows, or None for
    the seq when changes kept landing while it read.

    PostgreSQL reads each statement at its own snapshot (reads run without a transaction,
    ``database.py``), so a list alone cannot say which changes it holds. Every change to a
    project's content moves its stamp in the same transaction, so rows read between two
    equal stamps show exactly that seq: a board then applies only the events after it.
    """
    for _ in range(READ_TRIES):
        before = content_stamp(project_id)
        value = read()
        if content_stamp(project_id) == before:
            return value, before[0]
    return value, None


def issue_events(issue_id, project_id, limit, cursor):
    """A page of the events that name an issue (its own and its comments'), oldest first.

    Events keep the issue in their data (``issue.id``, or ``issue_id`` for comments), not
    in a column; none is older than the issue, so only the project's events since the
    issue was created are read (``ix_events_project_at``).
    """
    return paginate(_issue_event_query(issue_id, project_id), [Key(Event.seq, lambda e: e.seq)], limit, cursor)


def count_issue_events(issue_id, project_id):
    """How many events ``issue_events`` pages through."""
    return db.session.scalar(select(func.count()).select_from(_issue_event_query(issue_id, project_id).subquery()))


def _issue_event_query(issue_id, project_id):
    created_at = select(Issue.created_at).where(Issue.id == issue_id).scalar_subquery()
    names_issue = or_(Event.data[("issue", "id")].as_integer() == issue_id,
                      Event.data["issue_id"].as_integer() == issue_id)
    return select(Event).where(Event.project_id == project_id, Event.at >= created_at, names_issue)
