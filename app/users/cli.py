"""CLI: ``flask users create`` and ``flask seed-demo``."""
import sys

import click
from flask.cli import AppGroup

from ..errors import Problem
from .bootstrap import ensure_first_admin
from .demo import NotEmpty, seed_demo
from .service import create_user

users_cli = AppGroup("users", help="Manage users.")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--password", required=True)
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
def create_user_command(email, name, password, admin):
    """Create a user."""
    if len(password) < 8:
        sys.exit("error: the password needs at least 8 characters")
    try:
        user = create_user(email, name, password, is_admin=admin)
    except Problem as error:
        sys.exit(f"error: {error.detail}")
    click.echo(f"created user {user.id} <{user.email}>{' (admin)' if admin else ''}")


@users_cli.command("ensure-admin")
def ensure_admin_command():
    """Create the first admin when there is no user, printing its password once."""
    ensure_first_admin()


@click.command("seed-demo")
@click.option("--issues", default=300, show_default=True, help="Issues per project.")
def seed_demo_command(issues):
    """Fill a new installation with demo users, two projects, issues, history and comments.

    Refuses a database with data in it (any project, or users besides the first admin):
    the demo users' password is published."""
    try:
        summary = seed_demo(issues)
    except NotEmpty as error:
        sys.exit(f"error: {error}")
    click.echo(summary)
