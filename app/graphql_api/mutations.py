"""The Mutation type: each field is its REST route's body, spelled for GraphQL. The same
schema checks the input (same messages, as ``BAD_USER_INPUT``), the same service makes
the change (same rules, events and audit), and ``expectedVersion`` is ``If-Match``."""
import functools

from ariadne import MutationType

from ..admin import service as admin
from ..admin.schemas import AdminUserInput, UserPatch
from ..auth.permissions import load_project
from ..auth.tokens import require_admin
from ..batches import service as batches
from ..batches.schemas import BatchInput
from ..comments import service as comments
from ..database import reads_first
from ..comments.schemas import CommentInput
from ..errors import Problem
from ..extensions import db
from ..ids import plain_int
from ..issues import service as issues
from ..issues.schemas import IssueInput, IssuePatch
from ..projects import service as projects
from ..projects.schemas import MemberInput, ProjectInput, ProjectPatch
from ..users import service as users
from .problems import load
from .queries import row_id

mutation_type = MutationType()


def mutation(name):
    """Bind a resolver to ``name``; a refused change leaves nothing half-done behind."""

    def bind(resolver):
        @functools.wraps(resolver)
        def resolve(_root, info, **args):
            try:
                return resolver(info.context.user, **args)
            except Problem:
                db.session.rollback()
                raise

        return mutation_type.field(name)(resolve)

    return bind


def _fields(args, *names):
    """The REST body of these arguments (the ones given); an ``ID`` that is a plain number
    goes as the number, anything else as it came (for the schema to refuse)."""
    body = {name: args[name] for name in names if name in args}
    if body.get("assignee_id") is not None:
        body["assignee_id"] = plain_int(str(body["assignee_id"])) or body["assignee_id"]
    return body


ISSUE_FIELDS = ("title", "description", "status", "priority", "assignee_id", "labels")


@mutation("createProject")
def create_project(user, **args):
    return projects.create_project(user, **load(ProjectInput(), _fields(args, "key", "name", "description")))


@mutation("updateProject")
def update_project(user, key, expected_version=None, **args):
    changes = load(ProjectPatch(), _fields(args, "name", "description"))
    return projects.update_project(load_project(key, user), user, changes, expected_version)


@mutation("deleteProject")
def delete_project(user, key):
    projects.delete_project(load_project(key, user), user)
    return True


@mutation("setMember")
def set_member(user, project, user_id, role):
    role = load(MemberInput(), {"role": role})["role"]
    return projects.set_member(load_project(project, user), user, row_id(user_id, "user"), role)


@mutation("removeMember")
def remove_member(user, project, user_id):
    projects.remove_member(load_project(project, user), user, row_id(user_id, "member"))
    return True


@mutation("createIssue")
def create_issue(user, project, **args):
    data = load(IssueInput(), _fields(args, *ISSUE_FIELDS))
    return issues.create_issue(load_project(project, user), user, data)


@mutation("updateIssue")
def update_issue(user, id, expected_version=None, **args):
    changes = load(IssuePatch(), _fields(args, *ISSUE_FIELDS))
    issue = issues.load_issue(row_id(id, "issue"), user, for_update=True)
    return issues.update_issue(issue, user, changes, expected_version)


@mutation("deleteIssue")
def delete_issue(user, id):
    issues.delete_issue(issues.load_issue(row_id(id, "issue"), user, for_update=True), user)
    return True


@mutation("createComment")
def create_comment(user, issue_id, body):
    body = load(CommentInput(), {"body": body})["body"]
    return comments.create_comment(issues.load_issue(row_id(issue_id, "issue"), user), user, body)


@mutation("updateComment")
def update_comment(user, id, body, expected_version=None):
    body = load(CommentInput(), {"body": body})["body"]
    comment = comments.load_comment(row_id(id, "comment"), user, for_update=True)
    return comments.update_comment(comment, user, body, expected_version)


@mutation("deleteComment")
def delete_comment(user, id):
    comments.delete_comment(comments.load_comment(row_id(id, "comment"), user, for_update=True), user)
    return True


@mutation("submitBatch")
def submit_batch(user, idempotency_key=None, **args):
    data = load(BatchInput(), _fields(args, "mode", "dry_run", "operations"))
    batches.check_idempotency_key(idempotency_key)
    batch, _created = batches.submit(user, data, batches.body_hash(data), idempotency_key)
    return batch


@mutation("cancelBatch")
def cancel_batch(user, id):
    with reads_first():  # as REST: flag it without waiting for a worker's write lock
        batch = batches.flag_cancel(batches.load_batch(row_id(id, "batch"), user))
    return batches.cancel(batch)


@mutation("createUser")
def create_user(user, **args):
    require_admin()
    data = load(AdminUserInput(), _fields(args, "email", "name", "password", "is_admin"))
    return users.create_user(data["email"], data["name"], data["password"], is_admin=data["is_admin"],
                             actor_id=user.id)


@mutation("updateUser")
def update_user(user, id, expected_version=None, **args):
    require_admin()
    changes = load(UserPatch(), _fields(args, "is_admin", "active"))
    return admin.update_user(user, row_id(id, "user"), changes, expected_version)
