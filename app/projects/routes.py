"""Routes: /api/v1/projects and /api/v1/projects/{key}/members."""
from ..auth.permissions import load_project
from ..auth.tokens import current_user
from ..pagination import PageArgs, page_schema
from ..versions import etag, if_match_version
from . import bp, service
from .schemas import (MemberInput, MemberInvite, MemberInviteOutput, MemberOutput, ProjectInput, ProjectOutput,
                      ProjectPatch)

ProjectPage = page_schema(ProjectOutput, "ProjectPage")
MemberPage = page_schema(MemberOutput, "MemberPage")


@bp.route("", methods=["POST"])
@bp.arguments(ProjectInput)
@bp.response(201, ProjectOutput)
def create_project(data):
    """Create a project; the caller becomes its maintainer."""
    project = service.create_project(current_user(), **data)
    return service.project_dict(project, "maintainer"), 201, etag(project.version)


@bp.route("", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, ProjectPage)
def list_projects(args):
    """List the projects the caller can read (admins: all)."""
    user = current_user()
    page = service.list_projects(user, args["limit"], args["cursor"])
    page["items"] = [service.project_dict(p, service.caller_role(p, user)) for p in page["items"]]
    return page


@bp.route("/<string:key>", methods=["GET"])
@bp.response(200, ProjectOutput)
def get_project(key):
    user = current_user()
    project = load_project(key, user)
    return service.project_dict(project, service.caller_role(project, user)), 200, etag(project.version)


@bp.route("/<string:key>", methods=["PATCH"])
@bp.arguments(ProjectPatch)
@bp.response(200, ProjectOutput)
def update_project(data, key):
    user = current_user()
    project = service.update_project(load_project(key, user), user, data, if_match_version())
    return service.project_dict(project, service.caller_role(project, user)), 200, etag(project.version)


@bp.route("/<string:key>", methods=["DELETE"])
@bp.response(204)
def delete_project(key):
    """Delete a project with its issues, comments and events."""
    user = current_user()
    service.delete_project(load_project(key, user), user)


@bp.route("/<string:key>/members", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, MemberPage)
def list_members(args, key):
    user = current_user()
    page = service.list_members(load_project(key, user), args["limit"], args["cursor"])
    page["items"] = [service.member_dict(m, user) for m in page["items"]]
    return page


@bp.route("/<string:key>/members", methods=["POST"])
@bp.arguments(MemberInvite)
@bp.response(202, MemberInviteOutput)
def invite_member(data, key):
    """Add a member by e-mail, or change their role (maintainers).

    The answer is the same whether or not the address has an account, so it tells nothing
    about who uses Beacon: a user with that e-mail shows in the member list afterwards.
    Counts against `RATE_LIMIT_MEMBERS`."""
    user = current_user()
    service.invite_member(load_project(key, user), user, data["email"], data["role"])
    return data, 202


@bp.route("/<string:key>/members/<int:user_id>", methods=["PUT"])
@bp.arguments(MemberInput)
@bp.response(200, MemberOutput)
def set_member(data, key, user_id):
    """Add a member, or change a member's role (maintainers).

    The member's e-mail is shown only to admins and to the member (else `null`).
    Counts against `RATE_LIMIT_MEMBERS`."""
    user = current_user()
    membership = service.set_member(load_project(key, user), user, user_id, data["role"])
    return service.member_dict(membership, user)


@bp.route("/<string:key>/members/<int:user_id>", methods=["DELETE"])
@bp.response(204)
def remove_member(key, user_id):
    user = current_user()
    service.remove_member(load_project(key, user), user, user_id)
