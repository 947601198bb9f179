"""Routes: the caller's inbox, their account (``/me``), and watching issues."""
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..auth.access import caller_access
from ..auth.tokens import current_user
from ..errors import validation_error
from ..extensions import db
from ..issues.service import load_issue
from ..models import User
from ..pagination import page_schema
from ..schemas import renderer
from . import bp, service
from .delivery import notification_dict
from .schemas import (HandleArgs, HandleList, MarkReadInput, MeOutput, MePatch, NotificationListArgs,
                      NotificationOutput, UnreadCount)

NotificationPage = page_schema(NotificationOutput, "NotificationPage")
HANDLE_TAKEN = {"handle": ["This handle is taken."]}
me_dict = renderer(MeOutput)  # the caller's own account as /me shows it


@bp.route("/notifications", methods=["GET"])
@bp.arguments(NotificationListArgs, location="query")
@bp.response(200, NotificationPage)
def list_notifications(args):
    """Your notifications, newest first; ``unread=true`` for the unread ones only."""
    page = service.list_notifications(current_user().id, args["unread"], args["limit"], args["cursor"])
    page["items"] = [notification_dict(n) for n in page["items"]]
    return page


@bp.route("/notifications/unread-count", methods=["GET"])
@bp.response(200, UnreadCount)
def unread_count():
    """How many of your notifications are unread."""
    return {"count": service.unread_count(current_user().id)}


@bp.route("/notifications/read", methods=["POST"])
@bp.arguments(MarkReadInput)
@bp.response(204)
def mark_read(data):
    """Mark notifications read: ``{"ids": [...]}`` (yours; others' are ignored) or ``{"all": true}``."""
    service.mark_read(current_user().id, data.get("ids"))


@bp.route("/issues/<int:issue_id>/watch", methods=["PUT"])
@bp.response(204)
def watch(issue_id):
    """Watch an issue: be notified of its changes."""
    user = current_user()
    service.set_watching(load_issue(issue_id, user), user, True)


@bp.route("/issues/<int:issue_id>/watch", methods=["DELETE"])
@bp.response(204)
def unwatch(issue_id):
    """Stop watching an issue, even one you reported, were assigned or commented on."""
    user = current_user()
    service.set_watching(load_issue(issue_id, user), user, False)


@bp.route("/projects/<string:key>/handles", methods=["GET"])
@bp.arguments(HandleArgs, location="query")
@bp.response(200, HandleList)
def project_handles(args, key):
    """The project's active members whose handle or name starts with ``q``: whom an
    ``@`` can mention (the issue page's autocomplete)."""
    access = caller_access(project_key=key)
    return {"items": service.mentionable(access.id, args["q"], args["limit"])}


@bp.route("/me", methods=["GET"])
@bp.response(200, MeOutput)
def me():
    """You: your handle and your choice of notification e-mails."""
    return me_dict(current_user())


@bp.route("/me", methods=["PATCH"])
@bp.arguments(MePatch)
@bp.response(200, MeOutput)
def update_me(data):
    """Change your handle, name or ``email_notifications`` (off, digest, instant)."""
    user = current_user()
    handle = data.get("handle")
    if handle is not None and handle != user.handle and db.session.scalar(
            select(func.count()).select_from(User).where(User.handle == handle)):
        raise validation_error(HANDLE_TAKEN)
    for name, value in data.items():
        setattr(user, name, value)
    try:
        db.session.commit()
    except IntegrityError:  # taken meanwhile by someone else
        db.session.rollback()
        raise validation_error(HANDLE_TAKEN) from None
    return me_dict(user)
