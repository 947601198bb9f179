"""The backup repository and sealer as this app is configured, and the error operations raise.

Making, verifying, restoring and listing backups all start here: ``repository()`` is
``BACKUP_DIR``, ``sealer()`` the key that encrypts chunks and authenticates manifests
(``BACKUP_ENCRYPTION_KEY``, else ``SECRET_KEY``). A module of its own, below all of
them, so none has to import another one's module to reach these.
"""
from flask import current_app

from .crypto import Sealer, parse_key
from .repository import Repository


class BackupError(Exception):
    """A backup operation was refused or failed; the message is one line for people."""


def one_line(error):
    """The first line of an error's message: what a record or a CLI shows."""
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:500]


def repository():
    return Repository(current_app.config["BACKUP_DIR"]).ensure()


def sealer():
    """The configured encryption key, and ``SECRET_KEY`` to sign manifests when there is none."""
    try:
        return Sealer(parse_key(current_app.config.get("BACKUP_ENCRYPTION_KEY")), current_app.config["SECRET_KEY"])
    except ValueError as error:
        raise BackupError(str(error)) from None
