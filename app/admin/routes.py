"""Routes: /api/v1/admin/users, /audit, /jobs and /performance (admins only)."""
from flask import current_app

from ..auth.tokens import require_admin
from ..ops import perf
from ..pagination import page_schema
from ..users.schemas import UserOutput
from ..users.service import create_user, user_dict
from ..versions import etag, if_match_version
from . import bp, queues, service
from .schemas import (AdminUserInput, AuditListArgs, AuditOutput, JobOutput, JobsOutput, PerformanceOutput,
                      UserListArgs, UserPatch)

UserPage = page_schema(UserOutput, "UserPage")
AuditPage = page_schema(AuditOutput, "AuditPage")


@bp.route("/users", methods=["GET"])
@bp.arguments(UserListArgs, location="query")
@bp.response(200, UserPage)
def list_users(args):
    """List users by id, optionally only the active ones, the admins, or a name or e-mail match."""
    require_admin()
    page = service.list_users(args)
    page["items"] = [user_dict(user) for user in page["items"]]
    return page


@bp.route("/users", methods=["POST"])
@bp.arguments(AdminUserInput)
@bp.response(201, UserOutput)
def create(data):
    """Create a user (an admin when ``is_admin``)."""
    admin = require_admin()
    user = create_user(data["email"], data["name"], data["password"], is_admin=data["is_admin"], actor_id=admin.id)
    return user_dict(user), 201, etag(user.version)


@bp.route("/users/<int:user_id>", methods=["GET"])
@bp.response(200, UserOutput)
def get_user(user_id):
    require_admin()
    user = service.get_user(user_id)
    return user_dict(user), 200, etag(user.version)


@bp.route("/users/<int:user_id>", methods=["PATCH"])
@bp.arguments(UserPatch)
@bp.response(200, UserOutput)
def update_user(data, user_id):
    """Grant or revoke admin rights, deactivate or reactivate a user.

    Deactivating revokes the user's tokens and closes their sockets. A change that would
    leave no active admin, or an admin deactivating themself, is a 409.
    """
    admin = require_admin()
    user = service.update_user(admin, user_id, data, if_match_version())
    return user_dict(user), 200, etag(user.version)


@bp.route("/audit", methods=["GET"])
@bp.arguments(AuditListArgs, location="query")
@bp.response(200, AuditPage)
def list_audit(args):
    """The audit log, newest first: filter by ``action`` (``user.`` for a prefix), actor or target."""
    require_admin()
    page = service.list_audit(args)
    page["items"] = [service.audit_dict(entry) for entry in page["items"]]
    return page


@bp.route("/jobs", methods=["GET"])
@bp.response(200, JobsOutput)
def list_jobs():
    """The queue (depth, running, failed...), the workers, and the latest failed jobs."""
    require_admin()
    return queues.overview()


@bp.route("/jobs/<string:job_id>", methods=["GET"])
@bp.response(200, JobOutput)
def get_job(job_id):
    require_admin()
    return queues.get_job(job_id)


@bp.route("/jobs/<string:job_id>/requeue", methods=["POST"])
@bp.response(202, JobOutput)
def requeue_job(job_id):
    """Run a failed job again (409 when it is not failed)."""
    require_admin()
    return queues.requeue(job_id), 202


@bp.route("/performance", methods=["GET"])
@bp.response(200, PerformanceOutput)
def performance():
    """Per endpoint and per job type: count, errors, p50/p95/p99, and the slowest recent requests."""
    require_admin()
    return {"slow_request_ms": current_app.config["SLOW_REQUEST_MS"], "endpoints": perf.endpoint_figures(),
            "jobs": queues.job_figures(), "slow_requests": perf.slow_requests()}
