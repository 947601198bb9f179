"""Helpers for the backup tests: a repository per test, some data, and table dumps."""
import base64
import json
import os

import fakeredis
import pytest
from sqlalchemy import select

KEY_A = base64.b64encode(b"a" * 32).decode()
KEY_B = base64.b64encode(b"b" * 32).decode()
KEPT = {"audit_log", "backups", "alembic_version"}


@pytest.fixture
def repo_dir(app, tmp_path, monkeypatch):
    """A backup repository of this test's own, and a private in-process Redis for its jobs."""
    path = tmp_path / "repository"
    monkeypatch.setitem(app.config, "BACKUP_DIR", str(path))
    monkeypatch.setitem(app.config, "BACKUP_ENCRYPTION_KEY", None)
    monkeypatch.setitem(app.extensions, "beacon_redis", fakeredis.FakeRedis(server=fakeredis.FakeServer()))
    return path


def populate(factory, issues=6):
    """Users, a project, members, issues with comments and history: every kind of value."""
    from app.issues.service import update_issue

    admin = factory.admin("Admin")
    dev = factory.user("Dev")
    factory.user("Gone", active=False)
    project = factory.project(admin, "WEB")
    factory.member(project, dev, "member")
    factory.token(dev)
    made = []
    for n in range(issues):
        issue = factory.issue(project, admin, title=f"Issue {n} ünïcode \"q\" \\", description="line\nnext",
                              labels=["bug", f"l{n}"])
        factory.comment(issue, dev, f"comment on {n}")
        made.append(issue)
    update_issue(made[0], admin, {"status": "closed", "assignee_id": dev.id}, None)
    return admin, dev, project, made


def dump(db):
    """Every application table's rows (typed by SQLAlchemy), in primary-key order."""
    db.session.expire_all()
    out = {}
    for table in db.metadata.sorted_tables:
        if table.name in KEPT:
            continue
        rows = db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
        out[table.name] = [tuple(r) for r in rows]
    db.session.commit()
    return out


def manifest_path(repo, backup_id):
    return os.path.join(repo, "manifests", f"{backup_id}.json")


def read_manifest(repo, backup_id):
    with open(manifest_path(repo, backup_id)) as handle:
        return json.load(handle)


def chunk_path(repo, name):
    return os.path.join(repo, "chunks", name[:2], name)


def table_chunk(repo, backup_id, table):
    entry = next(t for t in read_manifest(repo, backup_id)["manifest"]["tables"] if t["name"] == table)
    return entry["chunks"][0]["hash"]


def flip_byte(path, offset=20):
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))
