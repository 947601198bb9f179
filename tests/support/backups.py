"""Helpers for the backup tests: a repository per test, some data, and table dumps."""
import base64
import json
import os

import fakeredis
import pytest
from sqlalchemy import select

KEY_A = base64.b64encode(b"a" * 32).decode()
KEY_B = base64.b64encode(b"b" * 32).decode()
KEPT = {"audit_log", "backups", "access_changes", "alembic_version"}


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


def plant_backup(repo, source_id, email):
    """What anyone who can write ``BACKUP_DIR`` can do: copy a real backup under a newer id,
    with an admin of their own added to its users (the password of the first user's row),
    and give it a manifest carrying only a SHA-256 of itself. Returns the new id."""
    import hashlib

    import zstandard

    from app.backups.crypto import FORMAT, canonical

    manifest = read_manifest(repo, source_id)["manifest"]
    users = next(t for t in manifest["tables"] if t["name"] == "users")
    chunk = users["chunks"][-1]
    with open(chunk_path(repo, chunk["hash"]), "rb") as handle:
        body = json.loads(zstandard.ZstdDecompressor().decompress(handle.read()))
    columns = body["columns"]
    row = list(body["rows"][0])
    row[columns.index("id")] = max(r[columns.index("id")] for r in body["rows"]) + 1
    row[columns.index("email")], row[columns.index("is_admin")], row[columns.index("active")] = email, True, True
    if "handle" in columns:  # handles are unique too
        row[columns.index("handle")] = email.partition("@")[0]
    body["rows"].append(row)
    data = zstandard.ZstdCompressor().compress(json.dumps(body).encode())
    name = hashlib.sha256(data).hexdigest()
    os.makedirs(os.path.dirname(chunk_path(repo, name)), exist_ok=True)
    with open(chunk_path(repo, name), "wb") as handle:
        handle.write(data)
    chunk.update(hash=name, bytes=len(data), rows=chunk["rows"] + 1)
    users["rows"] += 1
    manifest["id"] = planted = source_id[:-4] + "ffff"
    document = {"format": FORMAT, "manifest": manifest,
                "auth": {"type": "sha256", "value": hashlib.sha256(canonical(manifest)).hexdigest()}}
    with open(manifest_path(repo, planted), "w") as handle:
        json.dump(document, handle)
    return planted


WORDS = ("login page broken crash export report slow query cache timeout user admin button "
         "layout mobile api token webhook search filter sort pagination email invite dark mode "
         "upload image retry worker queue deadline chart metric alert").split()


def bulk_load(connection, issues, events, comments, seed=1):
    """Fill a migrated, empty database fast (Core executemany): 2 users, 1 project, and rows."""
    import random
    from datetime import datetime, timedelta

    from app.models import Comment, Event, Issue, Project, User

    rng = random.Random(seed)
    start = datetime(2026, 1, 1)

    pools = {}

    def text(n):  # from a pool of sentences: building 500,000 rows must take seconds, not minutes
        if n not in pools:
            pools[n] = [" ".join(rng.choice(WORDS) for _ in range(n)) for _ in range(997)]
        return pools[n][rng.randrange(997)]

    def at(i):
        return start + timedelta(seconds=i * 7, microseconds=rng.randrange(1_000_000))

    connection.execute(User.__table__.insert(), [
        {"id": 1, "email": "bulk1@example.test", "name": "Bulk One", "password_hash": "x", "is_admin": True,
         "active": True, "created_at": start},
        {"id": 2, "email": "bulk2@example.test", "name": "Bulk Two", "password_hash": "x", "is_admin": False,
         "active": True, "created_at": start}])
    connection.execute(Project.__table__.insert(), [{"id": 1, "key": "BULK", "name": "Bulk", "description": "",
                                                    "created_at": start, "updated_at": start,
                                                    "last_issue_number": issues, "last_event_seq": events}])
    step = 10_000
    for first in range(0, issues, step):
        connection.execute(Issue.__table__.insert(), [
            {"id": i + 1, "project_id": 1, "number": i + 1, "title": text(6), "description": text(25),
             "status": rng.choice(["open", "in_progress", "closed"]), "priority": rng.choice(["low", "medium", "high"]),
             "assignee_id": rng.choice([None, 1, 2]), "reporter_id": 1 + i % 2, "created_at": at(i),
             "updated_at": at(i), "resolved_at": None, "version": 1} for i in range(first, min(issues, first + step))])
    for first in range(0, events, step):
        connection.execute(Event.__table__.insert(), [
            {"id": i + 1, "project_id": 1, "seq": i + 1, "type": "issue.updated", "actor_id": 1 + i % 2, "at": at(i),
             "data": {"issue": {"id": 1 + i % max(issues, 1), "title": text(4)}, "changes": {"status": ["open", "closed"]}}}
            for i in range(first, min(events, first + step))])
    for first in range(0, comments, step):
        connection.execute(Comment.__table__.insert(), [
            {"id": i + 1, "issue_id": 1 + i % max(issues, 1), "project_id": 1, "author_id": 1 + i % 2, "body": text(15),
             "created_at": at(i), "updated_at": at(i), "version": 1} for i in range(first, min(comments, first + step))])
    if connection.dialect.name == "postgresql":
        from app.backups.load import reset_sequences

        reset_sequences(connection, [User.__table__, Project.__table__, Issue.__table__, Event.__table__,
                                     Comment.__table__])
