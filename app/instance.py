"""The instance folder and the SQLite database are their owner's only.

``instance/`` holds the database, the secret key and the backups: the folder is 0700
and the database 0600, whatever the umask (``make run``'s was 022: a world-readable
database). SQLite creates its ``-wal`` and ``-shm`` files with the database's own mode,
so a database made 0600 before its first connection keeps them private too; files left
by an older start are put right. The secret key is written 0600 by ``config``.
"""
import logging
import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def make_folder_private(instance_path):
    """Create the instance folder 0700, or take others' rights away from it and its secret key."""
    folder = Path(instance_path)
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    _restrict(folder, FOLDER_MODE)
    _restrict(folder / "secret_key", FILE_MODE)


def make_database_private(database_uri):
    """Create a SQLite database file 0600 before SQLite would (with the umask's mode), or
    take others' rights away from it and its -wal and -shm files. Other databases: nothing."""
    database = sqlite_file(database_uri)
    if database is None:
        return
    try:  # an empty file is an empty database
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass
    except FileNotFoundError:  # no such folder: SQLite will say so when it connects
        return
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        _restrict(path, FILE_MODE)


def sqlite_file(database_uri):
    """The file of a SQLite URL, or None (another database, or in memory)."""
    url = make_url(database_uri)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or url.query.get("uri"):
        return None
    return Path(url.database)


def _restrict(path, mode):
    """Take the group's and others' rights away from ``path`` if it exists."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & ~mode:
            path.chmod(current & mode)
    except FileNotFoundError:
        pass
    except PermissionError:  # not ours to change (a mounted folder): say so, and serve
        log.warning("%s is readable by others and cannot be made private", path)
