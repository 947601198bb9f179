"""The backup repository on disk: content-addressed chunks and one manifest per backup.

Layout under ``BACKUP_DIR``::

    chunks/ab/<sha256 hex>     compressed (and maybe encrypted) rows, named by their hash
    manifests/<id>.json        what a backup holds, written once, atomically
    state/<id>.json            the outcome of the latest verify (status, verified_at, error)
    locks/                     the maintenance lock (lock.py)

Names are checked against strict patterns before any path is built, so nothing read
from a manifest or a URL can point outside the repository. Folders are made 0700 and
files 0600: the rows inside are the whole database, password hashes included.
"""
import ctypes
import hashlib
import json
import os
import re
import uuid
from pathlib import Path

CHUNK_NAME = re.compile(r"^[0-9a-f]{64}$")
BACKUP_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{4}$")
FOLDER_MODE, FILE_MODE = 0o700, 0o600


class RepositoryError(Exception):
    """The repository is missing something or holds something it should not."""


def check_chunk_name(name):
    if not isinstance(name, str) or not CHUNK_NAME.match(name):
        raise RepositoryError(f"invalid chunk name {str(name)[:80]!r}")
    return name


def check_backup_id(backup_id):
    if not isinstance(backup_id, str) or not BACKUP_ID.match(backup_id):
        raise RepositoryError(f"invalid backup id {str(backup_id)[:80]!r}")
    return backup_id


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _syncfs(path):
    """Flush the filesystem holding ``path``; False where ``syncfs`` is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syncfs = libc.syncfs
    except (OSError, AttributeError):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        return syncfs(fd) == 0
    finally:
        os.close(fd)


def write_atomic(path, data, *, sync=True):
    """Write ``data`` to ``path`` via a temporary file, fsync and rename."""
    path = Path(path)
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), "wb") as handle:
        handle.write(data)
        if sync:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(tmp, path)
    if sync:
        _fsync_dir(path.parent)


class Repository:
    def __init__(self, root):
        self.root = Path(root)
        self.chunks = self.root / "chunks"
        self.manifests = self.root / "manifests"
        self.state = self.root / "state"
        self.locks = self.root / "locks"
        self._unsynced = set()

    def ensure(self):
        self.root.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        for directory in (self.chunks, self.manifests, self.state, self.locks):
            directory.mkdir(mode=FOLDER_MODE, exist_ok=True)
        return self

    # chunks
    def chunk_path(self, name):
        check_chunk_name(name)
        return self.chunks / name[:2] / name

    def has_chunk(self, name):
        return self.chunk_path(name).exists()

    def put_chunk(self, data):
        """Store ``data`` under its SHA-256; return ``(name, bytes newly written)``."""
        name = hashlib.sha256(data).hexdigest()
        path = self.chunk_path(name)
        if path.exists():
            return name, 0
        path.parent.mkdir(mode=FOLDER_MODE, exist_ok=True)
        # Chunks are fsynced as a whole by sync_chunks() before the manifest names them.
        write_atomic(path, data, sync=False)
        self._unsynced.add(path)
        return name, len(data)

    def begin_writes(self):
        self._unsynced = set()

    def sync_chunks(self):
        """Flush every chunk written since ``begin_writes`` (before the manifest goes down).

        On Linux one ``syncfs`` flushes them all at once (hundreds of fsyncs cost seconds).
        """
        if self._unsynced and _syncfs(self.chunks):
            self._unsynced = set()
            return
        directories = set()
        for path in self._unsynced:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            directories.add(path.parent)
        for directory in directories:
            _fsync_dir(directory)
        self._unsynced = set()

    def get_chunk(self, name):
        """Return a chunk's bytes after checking they still hash to its name."""
        path = self.chunk_path(name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise RepositoryError(f"chunk {name} is missing") from None
        if hashlib.sha256(data).hexdigest() != name:
            raise RepositoryError(f"chunk {name} does not match its hash")
        return data

    def chunk_size(self, name):
        return self.chunk_path(name).stat().st_size

    def all_chunks(self):
        if not self.chunks.exists():
            return []
        return [p.name for p in self.chunks.glob("*/*") if CHUNK_NAME.match(p.name)]

    def delete_chunk(self, name):
        self.chunk_path(name).unlink(missing_ok=True)

    # manifests
    def manifest_path(self, backup_id):
        return self.manifests / f"{check_backup_id(backup_id)}.json"

    def write_manifest(self, backup_id, data):
        write_atomic(self.manifest_path(backup_id), data)

    def read_manifest(self, backup_id):
        try:
            return self.manifest_path(backup_id).read_bytes()
        except FileNotFoundError:
            raise RepositoryError(f"backup {backup_id} has no manifest in the repository") from None

    def has_manifest(self, backup_id):
        return self.manifest_path(backup_id).exists()

    def backup_ids(self):
        """Every backup with a manifest, oldest first (ids sort by time)."""
        if not self.manifests.exists():
            return []
        ids = [p.name[:-5] for p in self.manifests.glob("*.json")]
        return sorted(i for i in ids if BACKUP_ID.match(i))

    def delete_manifest(self, backup_id):
        self.manifest_path(backup_id).unlink(missing_ok=True)
        self.state_path(backup_id).unlink(missing_ok=True)
        _fsync_dir(self.manifests)

    # verify outcomes
    def state_path(self, backup_id):
        return self.state / f"{check_backup_id(backup_id)}.json"

    def write_state(self, backup_id, state):
        self.state.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        write_atomic(self.state_path(backup_id), json.dumps(state, sort_keys=True).encode())

    def read_state(self, backup_id):
        try:
            state = json.loads(self.state_path(backup_id).read_bytes())
        except (FileNotFoundError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def remove_temporaries(self):
        """Delete temporary files a killed writer left behind."""
        for path in list(self.root.glob("*/.tmp-*")) + list(self.chunks.glob("*/.tmp-*")):
            path.unlink(missing_ok=True)
