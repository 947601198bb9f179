"""The first administrator of a new installation."""
import secrets

import click
from sqlalchemy import func, select

from ..extensions import db
from ..models import User
from .service import create_user

FIRST_ADMIN_EMAIL = "admin@beacon.local"


def ensure_first_admin():
    """Create an admin when the database has no user; print the credentials once."""
    if db.session.scalar(select(func.count(User.id))):
        return None
    password = secrets.token_urlsafe(12)
    user = create_user(FIRST_ADMIN_EMAIL, "Administrator", password, is_admin=True)
    click.echo("Created the first administrator. Sign in with:")
    click.echo(f"  email:    {user.email}")
    click.echo(f"  password: {password}")
    click.echo("This password is shown only now.")
    return user
