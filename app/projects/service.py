"""Projects and memberships: each change commits with its event.

A user's e-mail is shown only to that user and to admins (as GraphQL's ``User.email``):
member items carry it for them and ``null`` for anyone else, so adding users to a project
of one's own, by id, never reveals an address. Adding by e-mail (``invite_member``)
answers the same whether or not the address has an account. Both ways count against
``RATE_LIMIT_MEMBERS`` per caller, so neither can sweep ids or guess addresses quickly.
"""
from flask import current_app
from sqlalchemy import delete, select

from ..audit import record_audit
from ..auth.permissions import readable_project_ids, require_project_role, role_in
from ..unique import add_unique
from ..errors import not_found, validation_error
from ..events.service import record_event
from ..extensions import db
from ..models import Membership, Project, User
from ..models.base import utcnow
from ..ops import limits
from ..pagination import Key, paginate
from ..realtime import broadcast
from ..schemas import renderer
from ..versions import check_version
from .schemas import MemberOutput, ProjectOutput


_project_response = renderer(ProjectOutput, ("role",), role=lambda _project, role: role)


def project_dict(project, role=None):
    """A project as responses show it, with the caller's ``role`` in it."""
    return _project_response(project, role)


def event_project(project):
    return {"id": project.id, "key": project.key, "name": project.name, "description": project.description,
            "version": project.version}


def create_project(user, key, name, description=""):
    """Create a project with ``user`` as its maintainer."""
    project = add_unique(Project(key=key, name=name, description=description), f"The key {key} is already in use.")
    db.session.add(Membership(project_id=project.id, user_id=user.id, role="maintainer"))
    record_event(project, "project.created", user.id, {"project": event_project(project)})
    db.session.commit()
    return project


def list_projects(user, limit, cursor):
    query = select(Project).where(Project.id.in_(readable_project_ids(user)))
    return paginate(query, [Key(Project.key, lambda p: p.key)], limit, cursor)


def update_project(project, user, changes, expected_version=None):
    require_project_role(project, user, "maintainer")
    check_version(project.version, expected_version)
    diff = {f: [getattr(project, f), v] for f, v in changes.items() if getattr(project, f) != v}
    if diff:
        for field, (_old, new) in diff.items():
            setattr(project, field, new)
        project.updated_at = utcnow()
        project.version += 1
        db.session.flush()
        record_event(project, "project.updated", user.id, {"project": event_project(project), "changes": diff})
    db.session.commit()
    return project


def delete_project(project, user):
    require_project_role(project, user, "maintainer")
    record_audit(user.id, "project.deleted", "project", project.key, {"name": project.name})
    db.session.delete(project)
    db.session.commit()
    broadcast.room_closed(f"project:{project.key}")  # a new project may take the key


def _email_for(membership, viewer):
    return membership.user.email if viewer.is_admin or viewer.id == membership.user_id else None


# ``member_dict(membership, viewer)``: a member as ``viewer`` may see it, the e-mail only
# for themself and for admins.
member_dict = renderer(MemberOutput, ("viewer",), name=lambda membership, _viewer: membership.user.name,
                       email=_email_for)


def list_members(project, limit, cursor):
    query = select(Membership).where(Membership.project_id == project.id)
    return paginate(query, [Key(Membership.user_id, lambda m: m.user_id)], limit, cursor)


def set_member(project, actor, user_id, role):
    """Add an active user as a member, or change their role."""
    require_project_role(project, actor, "maintainer")
    _count_addition(actor)
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        raise not_found("user")
    return _set_role(project, actor, user, role)


def invite_member(project, actor, email, role):
    """Add the active user with this e-mail (or change their role) as ``set_member`` does;
    an address without an active account changes nothing. The caller is told neither."""
    require_project_role(project, actor, "maintainer")
    _count_addition(actor)
    user = db.session.scalar(select(User).where(User.email == email.strip().lower(), User.active))
    if user is not None:
        _set_role(project, actor, user, role)


def _count_addition(actor):
    limits.hit(current_app.config["RATE_LIMIT_MEMBERS"], "member-additions", f"user:{actor.id}")


def _set_role(project, actor, user, role):
    membership = db.session.get(Membership, (project.id, user.id))
    previous = membership.role if membership else None
    if membership is None:
        membership = Membership(project_id=project.id, user_id=user.id, role=role)
        db.session.add(membership)
    elif previous == "maintainer" and role != "maintainer":
        _keep_a_maintainer(project, user.id)
    membership.role = role
    if previous != role:
        data = {"user_id": user.id, "name": user.name, "role": role, "previous_role": previous}
        record_event(project, "member.added", actor.id, data)
        record_audit(actor.id, "member.added" if previous is None else "member.role_changed",
                     "project", project.key, data)
    db.session.commit()
    return membership


def remove_member(project, actor, user_id):
    require_project_role(project, actor, "maintainer")
    membership = db.session.get(Membership, (project.id, user_id))
    if membership is None:
        raise not_found("member")
    if membership.role == "maintainer":
        _keep_a_maintainer(project, user_id)
    data = {"user_id": user_id, "role": membership.role}
    db.session.execute(delete(Membership).where(
        Membership.project_id == project.id, Membership.user_id == user_id))
    record_event(project, "member.removed", actor.id, data)
    record_audit(actor.id, "member.removed", "project", project.key, data)
    db.session.commit()
    broadcast.access_lost(user_id, f"project:{project.key}")


def _keep_a_maintainer(project, leaving_user_id):
    others = db.session.scalar(select(Membership.user_id).where(
        Membership.project_id == project.id, Membership.role == "maintainer",
        Membership.user_id != leaving_user_id).limit(1))
    if others is None:
        raise validation_error({"role": ["A project keeps at least one maintainer."]},
                               "A project keeps at least one maintainer.")


def caller_role(project, user):
    return role_in(project.id, user)
