"""Routes: the page shells. Data comes from the API in the browser, with the user's token.

The token lives in the tab's sessionStorage, so the server cannot tell who is signed in;
each page's module sends a visitor without a token to the sign-in form at ``/``.
"""
import re

from flask import abort, render_template

from . import bp

ISSUE_KEY = re.compile(r"^([A-Z]{2,10})-([1-9][0-9]{0,9})$")
PROJECT_KEY = re.compile(r"^[A-Z]{2,10}$")


@bp.route("/")
def home():
    """Sign-in form, or the signed-in user's projects."""
    return render_template("home.html", page="home")


@bp.route("/projects/<string:key>")
def board(key):
    """A project's board: a column per status, live; ``?view=list`` shows the issues as a table."""
    if not PROJECT_KEY.match(key):
        abort(404)
    return render_template("board.html", page="board", project_key=key)


@bp.route("/projects/<string:key>/webhooks")
def webhooks(key):
    """A project's webhooks, their deliveries and redelivery (maintainers: the API refuses others)."""
    if not PROJECT_KEY.match(key):
        abort(404)
    return render_template("webhooks.html", page="webhooks", project_key=key)


@bp.route("/issues/<string:issue_key>")
def issue(issue_key):
    """One issue: its description, its comments and history in one timeline, and who is here."""
    match = ISSUE_KEY.match(issue_key)
    if not match:
        abort(404)
    return render_template("issue.html", page="issue", issue_key=issue_key, project_key=match.group(1))


@bp.route("/batches")
def batches():
    """Submit a batch of operations and follow it to its results."""
    return render_template("batches.html", page="batches")


@bp.route("/analytics")
def analytics():
    """Charts over the projects the user can read."""
    return render_template("analytics.html", page="analytics")


@bp.route("/inbox")
def inbox():
    """The signed-in user's notifications, live, with mark read."""
    return render_template("inbox.html", page="inbox")


@bp.route("/admin")
def admin():
    """Backups, users and the audit log (admins only: the API refuses others)."""
    return render_template("admin.html", page="admin")


@bp.route("/graphql")
def graphiql():
    """GraphiQL on the GraphQL API, with the tab's token."""
    return render_template("graphiql.html", page="graphql")
