"""The maintenance lock: one backup, verify, restore or prune touches the repository at a time.

A file in the repository (so every process using the repository sees it, with or without
Redis) holding its owner and an expiry. The holder renews it from a heartbeat thread; a
holder that dies stops renewing, and after ``ttl`` seconds anyone may take the lock over.
A holder on this host whose process is gone is stale at once. Taking over renames the
stale file away first (only one renamer can win), then creates a
fresh one with O_EXCL.
"""
import json
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager

from .repository import FILE_MODE, FOLDER_MODE, write_atomic

LOCK_NAME = "maintenance.json"
DEFAULT_TTL = 60.0
LOCK_WAIT_SECONDS = 300  # a backup or verify waits this long for a restore or prune to finish


class LockBusy(Exception):
    """Another process holds the lock."""


class MaintenanceLock:
    def __init__(self, repository, purpose, ttl=DEFAULT_TTL):
        self.path = repository.locks / LOCK_NAME
        self.purpose = purpose
        self.ttl = ttl
        self.token = uuid.uuid4().hex
        self.lost = False
        self._stop = threading.Event()
        self._thread = None

    def _record(self):
        return {"token": self.token, "purpose": self.purpose, "pid": os.getpid(),
                "host": socket.gethostname(), "expires_at": time.time() + self.ttl}

    def acquire(self, wait=0.0):
        """Take the lock, waiting up to ``wait`` seconds; raise LockBusy if it stays held."""
        self.path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        deadline = time.monotonic() + wait
        while True:
            if self._try_create() or self._try_take_over():
                self._thread = threading.Thread(target=self._heartbeat, daemon=True, name="backup-lock")
                self._thread.start()
                return self
            if time.monotonic() >= deadline:
                holder = read_holder(self.path) or {}
                raise LockBusy(f"another {holder.get('purpose', 'backup operation')} is running "
                               f"(pid {holder.get('pid')} on {holder.get('host')})")
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    def _try_create(self):
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as handle:
            json.dump(self._record(), handle)
        return True

    def _try_take_over(self):
        holder = read_holder(self.path)
        if holder is not None and is_live(holder):
            return False
        stale = self.path.with_name(f".stale-{self.token}")
        try:
            os.rename(self.path, stale)
        except FileNotFoundError:
            return self._try_create()
        seen = read_holder(stale)
        if seen is not None and is_live(seen):
            # Someone renewed or re-created it between our read and the rename: give it back.
            os.rename(stale, self.path)
            return False
        stale.unlink(missing_ok=True)
        return self._try_create()

    def _heartbeat(self):
        while not self._stop.wait(self.ttl / 3):
            self.renew()

    def renew(self):
        holder = read_holder(self.path)
        if holder is None or holder.get("token") != self.token:
            self.lost = True
            return False
        write_atomic(self.path, json.dumps(self._record()).encode(), sync=False)
        return True

    def check(self):
        """Raise LockBusy when the lock was taken over (this holder stalled past its expiry)."""
        if self.lost or not self.renew():
            raise LockBusy("the maintenance lock was lost (this process stalled past its expiry)")

    def release(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        holder = read_holder(self.path)
        if holder is not None and holder.get("token") == self.token:
            self.path.unlink(missing_ok=True)


def read_holder(path):
    try:
        holder = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def is_live(holder):
    """A holder is live until its expiry, unless it is a process of this host that is gone."""
    if not isinstance(holder.get("expires_at"), (int, float)) or holder["expires_at"] <= time.time():
        return False
    if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
        try:
            os.kill(holder["pid"], 0)
        except ProcessLookupError:
            return False  # died without releasing: no need to wait for the expiry
        except PermissionError:
            pass
    return True


def is_held(repository):
    holder = read_holder(repository.locks / LOCK_NAME)
    return holder is not None and is_live(holder)


@contextmanager
def maintenance(repo, purpose, held=None, wait=0.0):
    """Hold the maintenance lock for the block (or reuse the one the caller holds)."""
    if held is not None:
        yield held
        return
    lock = MaintenanceLock(repo, purpose).acquire(wait=wait)
    try:
        yield lock
    finally:
        lock.release()
