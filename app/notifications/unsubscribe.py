"""One-click unsubscribe (RFC 8058): the link every notification mail carries.

The link holds the user's id signed with ``SECRET_KEY`` (its own salt, so no other
signed value of Beacon passes for it): it cannot be forged, nor changed to name another
user. ``POST`` to it turns the user's ``email_notifications`` off without signing in,
which is what mail clients do for ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``;
``GET`` (a person following the link) shows a page with the button that posts, so a
link scanner that fetches every URL of a mail unsubscribes no one.
"""
from flask import Blueprint, abort, current_app, render_template
from itsdangerous import BadSignature, URLSafeSerializer

from ..extensions import db
from ..models import User

SALT = "beacon.unsubscribe"
bp = Blueprint("unsubscribe", __name__)


def _serializer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def unsubscribe_url(user_id):
    """The one-click link that turns off ``user_id``'s notification mails."""
    return f"{current_app.config['PUBLIC_URL']}/unsubscribe/{_serializer().dumps(user_id)}"


def _user(token):
    try:
        user_id = _serializer().loads(token)
    except BadSignature:
        abort(404)
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None:
        abort(404)
    return user


@bp.route("/unsubscribe/<string:token>", methods=["GET"])
def confirm(token):
    """A page that asks before turning the mails off."""
    _user(token)
    return render_template("unsubscribe.html", page="unsubscribe", done=False)


@bp.route("/unsubscribe/<string:token>", methods=["POST"])
def unsubscribe(token):
    """Turn off the user's notification mails (one click, no sign-in)."""
    user = _user(token)
    if user.email_notifications != "off":
        user.email_notifications = "off"
        db.session.commit()
    return render_template("unsubscribe.html", page="unsubscribe", done=True)
