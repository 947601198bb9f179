"""Apply a batch's operations inside the caller's transaction.

Issue creates, the bulk of most batches, are checked one by one with the issue service's
own check (``check_new_issue``: role, assignee) and built by the one issue builder
(``issues/build.py``: defaults, labels, ``resolved_at``, the status-change row), then
written in bulk (``app/bulk.py``: COPY on PostgreSQL, else ``executemany``), one statement
each for issues, labels, status changes, and events (through ``record_events``). If the
bulk write fails, the run falls back to ``create_issue`` one operation at a time, so the
operation at fault is found and fails alone. Other operations call their services (``update_issue``, ``delete_issue``,
``create_comment``) directly.

Whatever an operation meets, it is that operation's failure, never the run's: a rule it
breaks (``Problem``), a value the database refuses, or an error nobody foresaw (an id past
64 bits that SQLite's driver cannot bind, a bug). A run that crashed on one operation was
retried and crashed again, and the valid operations beside it were never applied. Only a
job timeout stops the run.
"""
import logging
from itertools import groupby
from types import SimpleNamespace

from rq.timeouts import BaseTimeoutException
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..bulk import insert_rows, inserting_with_ids
from ..comments.service import create_comment
from ..errors import Problem, not_found
from ..events.service import record_events, reserve_seqs, savepoint
from ..extensions import db
from ..issues.build import new_issue, status_change
from ..issues.service import check_new_issue, create_issue, created_event, delete_issue, load_issue, update_issue
from ..models import Issue, IssueLabel, IssueStatusChange, Project
from ..models.base import utcnow

log = logging.getLogger(__name__)

ROLLED_BACK = "Not applied: the atomic batch was rolled back."
CANCELLED = "Not applied: the batch was cancelled."
DEACTIVATED = "Not applied: the batch was cancelled because its submitter's account was deactivated."
UNEXPECTED = "An unexpected error stopped this operation; it was not applied."
KINDS = ("issue.create", "issue.update", "issue.delete", "comment.create")
UNKNOWN = "unknown"  # the name of an operation of no kind a batch runs (stored without validation)


class OperationFailed(Exception):
    """An operation of an atomic batch failed: the whole batch rolls back."""

    def __init__(self, index, error):
        super().__init__(error)
        self.index = index
        self.error = error


def operation_name(operation):
    """``issue.create`` and the like, or ``unknown``: what a result row and the analytics
    call the operation, whatever was stored."""
    if isinstance(operation, dict):
        name = f"{operation.get('resource')}.{operation.get('op')}"
        if name in KINDS:
            return name
    return UNKNOWN


def describe(problem):
    """The error of a failed operation: the problem's detail, or its field messages."""
    if problem.errors:
        return "; ".join(f"{field}: {' '.join(map(str, messages))}" for field, messages in problem.errors.items())
    return problem.detail


def error_of(error, index):
    """What the result of the operation at ``index`` says about the exception that stopped it."""
    if _unforeseen(error, f"operation {index}"):
        return UNEXPECTED
    return describe(error) if isinstance(error, Problem) else "The database rejected this operation."


def _unforeseen(error, where):
    """True for an exception no rule foresaw, logged with its traceback (a result names no
    internals; the log keeps them). A job timeout is raised again: the run stops there,
    and the reaper resumes the batch."""
    if isinstance(error, BaseTimeoutException):
        raise error
    if isinstance(error, (Problem, SQLAlchemyError)):
        return False
    log.error("batch %s met an unexpected error", where, exc_info=error)
    return True


class Applier:
    """Applies operations for one submitter, remembering what each ``lid`` created."""

    def __init__(self, user, operations, isolate, lids=None):
        self.user = user
        self.operations = operations
        self.isolate = isolate  # best effort: each operation stands alone
        self.lids = dict(lids or {})
        self.projects = {}

    def apply(self, indexes):
        """Apply the operations at ``indexes``; return ``{index: (status, resource_id, error)}``."""
        results = {}
        # Looked up again each chunk: the session expired them.
        self.projects = {}
        for is_create, run in groupby(indexes, key=lambda i: operation_name(self.operations[i]) == "issue.create"):
            run = list(run)
            if is_create:
                self._create_issues(run, results)
            else:
                for index in run:
                    self._one(index, results, self._apply_one)
        return results

    # --- one operation at a time -------------------------------------------------------

    def _one(self, index, results, action):
        operation = self.operations[index]
        try:
            if self.isolate:
                with savepoint():
                    resource_id = action(operation)
            else:
                resource_id = action(operation)
        except Exception as error:  # any of them is this operation's failure (module docstring)
            self._fail(index, error_of(error, index), results)
        else:
            results[index] = ("succeeded", resource_id, None)
            if operation.get("lid") is not None and operation["op"] == "create":
                self.lids[operation["lid"]] = resource_id

    def _fail(self, index, error, results):
        if not self.isolate:
            raise OperationFailed(index, error)
        results[index] = ("failed", None, error)

    def _target(self, operation, key="id", lid_key="lid"):
        holder = operation if key == "id" else operation["data"]
        if key in holder:
            return holder[key]
        lid = holder[lid_key]
        if lid not in self.lids:
            raise Problem(422, f"The operation that creates lid {lid!r} did not succeed.")
        return self.lids[lid]

    def _apply_one(self, operation):
        name = operation_name(operation)
        if name == "comment.create":
            issue = load_issue(self._target(operation, "issue_id", "issue_lid"), self.user)
            return create_comment(issue, self.user, operation["data"]["body"], commit=False).id
        if name == UNKNOWN:
            raise Problem(422, "Not an operation a batch runs (issue: create, update, delete; comment: create).")
        issue = load_issue(self._target(operation), self.user)
        if name == "issue.update":
            return update_issue(issue, self.user, operation["data"], operation.get("if_version"), commit=False).id
        delete_issue(issue, self.user, commit=False)
        return issue.id

    def _create_one(self, operation):
        data = dict(operation["data"])
        return create_issue(self._project(data.pop("project")), self.user, data, commit=False).id

    # --- issue creates in bulk ------------------------------------------------------------

    def _project(self, key):
        if key not in self.projects:
            self.projects[key] = db.session.scalar(select(Project).where(Project.key == key))
        project = self.projects[key]
        if project is None:
            raise not_found("project")
        return project

    def _check_create(self, data):
        project = self._project(data["project"])
        check_new_issue(project, self.user, data)
        return project

    def _create_issues(self, indexes, results):
        failures = {}
        try:
            with savepoint():
                valid = self._check_creates(indexes, failures)
        except SQLAlchemyError:
            # A check the database refused (an assignee id past 64 bits) aborts a
            # PostgreSQL transaction, and every check after it: check each on its own.
            failures.clear()
            valid = self._check_creates(indexes, failures, alone=True)
        for index, error in sorted(failures.items()):
            self._fail(index, error, results)
        if not valid:
            return
        try:
            with savepoint():
                created = self._insert_issues(valid)
        except Exception as error:
            # Something only the database could see (a row changed meanwhile), or a value
            # stored without validation that the bulk write could not take: one at a time,
            # the operation at fault fails alone.
            _unforeseen(error, "bulk create")
            for index, _project in valid:
                self._one(index, results, self._create_one)
            return
        for index, issue_id in created:
            results[index] = ("succeeded", issue_id, None)
            lid = self.operations[index].get("lid")
            if lid is not None:
                self.lids[lid] = issue_id

    def _check_creates(self, indexes, failures, alone=False):
        """Check issue creates; return ``[(index, project)]`` of those that may go ahead and
        put the others' errors in ``failures``. ``alone``: each in a savepoint of its own
        (the slow way, after the database refused one); else a database error is raised."""
        valid = []
        for index in indexes:
            try:
                if alone:
                    with savepoint():
                        valid.append((index, self._check_create(self.operations[index]["data"])))
                else:
                    valid.append((index, self._check_create(self.operations[index]["data"])))
            except SQLAlchemyError as error:
                if not alone:
                    raise
                failures[index] = error_of(error, index)
            except Exception as error:  # this operation's failure (module docstring)
                failures[index] = error_of(error, index)
        return valid

    def _insert_issues(self, valid):
        now, user_id = utcnow(), self.user.id
        rows, labels, by_project = [], [], {}
        for index, project in valid:
            by_project.setdefault(project.id, (project, []))[1].append(index)
        firsts = {pid: reserve_seqs(pid, len(idx), issue_numbers=len(idx)) for pid, (_p, idx) in by_project.items()}
        numbers = {pid: number for pid, (_seq, number) in firsts.items()}
        for index, project in valid:
            row, names = new_issue(project.id, numbers[project.id], user_id, self.operations[index]["data"], now)
            rows.append(row)
            labels.append(names)
            numbers[project.id] += 1
        with inserting_with_ids(Issue.__table__, rows, "project_id", "number") as ids:
            # Prepared while the database takes the issues in.
            label_rows = [{"issue_id": i, "name": n} for i, names in zip(ids, labels, strict=True) for n in names]
            status_rows = [status_change(i, r["project_id"], None, r["status"], now, user_id)
                           for i, r in zip(ids, rows, strict=True)]
            changes = {pid: [] for pid in by_project}
            for issue_id, row, names in zip(ids, rows, labels, strict=True):
                issue = SimpleNamespace(id=issue_id, labels=names, **row)
                project = by_project[row["project_id"]][0]
                changes[project.id].append(created_event(issue, project.key, user_id))
        insert_rows(IssueLabel.__table__, label_rows)
        insert_rows(IssueStatusChange.__table__, status_rows)
        for pid, project_changes in changes.items():
            record_events(by_project[pid][0], project_changes, firsts[pid][0])
        return [(index, issue_id) for (index, _p), issue_id in zip(valid, ids, strict=True)]
