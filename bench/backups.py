"""Benchmark backups against the native tools, on the same database in the same run.

    .venv/bin/python bench/backups.py [--engines sqlite,postgresql] [--issues 200000]
                                      [--events 200000] [--comments 100000] [--changes 100]

Baselines: SQLite ``sqlite3 .backup`` then ``zstd -3`` (restore: ``zstd -d`` to a file);
PostgreSQL ``pg_dump`` (plain) ``| zstd -3``, restored with ``zstdcat | psql`` into a new
database. Beacon: the first backup (snapshot, chunks, manifest), its verify (a restore into a
scratch SQLite database), a restore (whole-backup check, then one transaction replacing
every table; the safety backup it takes first is timed apart), then ``--changes`` issue
updates (each with its event) and a second backup: its time and the bytes it wrote.
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import database_url_for, drop_database, migrate  # noqa: E402


def timed(func, *args, **kwargs):
    started = time.perf_counter()
    result = func(*args, **kwargs)
    return time.perf_counter() - started, result


def sh(command):
    subprocess.run(command, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def libpq(url):
    return url.replace("postgresql+psycopg://", "postgresql://")


def native_sqlite(url, work):
    path = url.removeprefix("sqlite:///")
    copy, packed, back = work / "native.db", work / "native.db.zst", work / "native-restored.db"
    t_backup, _ = timed(sh, f"sqlite3 {path} \".backup '{copy}'\"")
    t_zstd, _ = timed(sh, f"zstd -q -3 -f {copy} -o {packed}")
    t_restore, _ = timed(sh, f"zstd -q -d -f {packed} -o {back}")
    # The logical pipeline, SQLite's counterpart of pg_dump: SQL text out, SQL text in.
    dump, logical = work / "native.sql.zst", work / "native-logical.db"
    t_dump, _ = timed(sh, f"sqlite3 {path} .dump | zstd -q -3 -f -o {dump}")
    t_load, _ = timed(sh, f"zstdcat {dump} | sqlite3 {logical}")
    return {"backup": t_backup + t_zstd, "restore": t_restore, "bytes": packed.stat().st_size,
            "detail": f".backup {t_backup:.2f} s + zstd {t_zstd:.2f} s",
            "logical": {"backup": t_dump, "restore": t_load, "bytes": dump.stat().st_size}}


def native_postgresql(url, work):
    packed = work / "dump.sql.zst"
    t_backup, _ = timed(sh, f"pg_dump --no-owner '{libpq(url)}' | zstd -q -3 -f -o {packed}")
    target = database_url_for("postgresql", work, "native")
    try:
        t_restore, _ = timed(sh, f"zstdcat {packed} | psql -q -v ON_ERROR_STOP=1 '{libpq(target)}'")
    finally:
        drop_database("postgresql", target)
    return {"backup": t_backup, "restore": t_restore, "bytes": packed.stat().st_size, "detail": "pg_dump | zstd -3"}


def make_changes(db, count, seed=7):
    """``count`` issue updates spread over the table, each with its event, as the app writes them."""
    from sqlalchemy import func, select

    from app.models import Event, Issue, Project
    from app.models.base import utcnow

    rng = random.Random(seed)
    with db.engine.begin() as connection:
        top = connection.execute(select(func.max(Issue.id))).scalar()
        seq = connection.execute(select(func.max(Event.seq))).scalar() or 0
        for n, issue_id in enumerate(rng.sample(range(1, top + 1), count), start=1):
            now = utcnow()
            connection.execute(Issue.__table__.update().where(Issue.id == issue_id).values(
                title=f"changed {n}", updated_at=now, version=Issue.version + 1))
            connection.execute(Event.__table__.insert().values(
                project_id=1, seq=seq + n, type="issue.updated", actor_id=1, at=now,
                data={"issue": {"id": issue_id}, "changes": {"title": ["old", f"changed {n}"]}}))
        connection.execute(Project.__table__.update().values(last_event_seq=seq + count))


def run_engine(engine, args, work):
    from app import create_app
    from app.backups.create import create_backup
    from app.backups.restore import restore_backup
    from app.backups.verify import verify_backup
    from app.extensions import db
    from tests.support.backups import bulk_load

    url = database_url_for(engine, work, "backups")
    try:
        migrate(url)
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "EMBEDDED_WORKER": False, "REDIS_URL": None,
                          "BACKUP_DIR": str(work / f"repo-{engine}")})
        with app.app_context():
            with db.engine.begin() as connection:
                t_load, _ = timed(bulk_load, connection, args.issues, args.events, args.comments)
            if engine == "postgresql":
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                    connection.exec_driver_sql("VACUUM ANALYZE")
            native = native_sqlite(url, work) if engine == "sqlite" else native_postgresql(url, work)
            t_first, first = timed(create_backup, "first", verify=False)
            t_verify, verified = timed(verify_backup, first.id)
            assert verified["ok"], verified
            t_restore, _ = timed(restore_backup, first.id, safety=False)
            t_safe, _ = timed(restore_backup, first.id)
            make_changes(db, args.changes)
            t_second, second = timed(create_backup, "second", verify=False)
            db.session.remove()
        return {"engine": engine, "load": t_load, "native": native, "first": t_first, "first_bytes": first.new_bytes,
                "verify": t_verify, "restore": t_restore, "restore_with_safety": t_safe, "second": t_second,
                "second_bytes": second.new_bytes}
    finally:
        drop_database(engine, url)


def report(r, args):
    n = r["native"]
    print(f"\n== {r['engine']}: {args.issues:,} issues, {args.events:,} events, {args.comments:,} comments "
          f"(loaded in {r['load']:.1f} s)")
    print(f"native backup   {n['backup']:6.2f} s  ({n['detail']}), {n['bytes']:,} bytes")
    print(f"beacon backup   {r['first']:6.2f} s  {r['first_bytes']:,} bytes   ratio {r['first'] / n['backup']:.2f}x")
    print(f"beacon verify   {r['verify']:6.2f} s  (load into scratch SQLite, FK check)")
    print(f"native restore  {n['restore']:6.2f} s")
    print(f"beacon restore  {r['restore']:6.2f} s  ratio {r['restore'] / n['restore']:.2f}x "
          f"(with the safety backup first: {r['restore_with_safety']:.2f} s)")
    if "logical" in n:
        g = n["logical"]
        print(f"native logical  .dump | zstd -3 {g['backup']:.2f} s ({g['bytes']:,} bytes), zstdcat | sqlite3 "
              f"{g['restore']:.2f} s; beacon vs it: backup {r['first'] / g['backup']:.2f}x, "
              f"restore {r['restore'] / g['restore']:.2f}x")
    share = 100 * r["second_bytes"] / r["first_bytes"]
    print(f"second backup after {args.changes} changes: {r['second']:.2f} s, {r['second_bytes']:,} bytes "
          f"= {share:.2f}% of the first (target < 1%)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--issues", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=100)
    args = parser.parse_args()
    os.environ.setdefault("BEACON_INSTANCE_PATH", tempfile.mkdtemp(prefix="beacon-bench-instance-"))
    for name in ("DATABASE_URL", "REDIS_URL", "BACKUP_DIR", "BACKUP_ENCRYPTION_KEY"):
        os.environ.pop(name, None)
    work = Path(tempfile.mkdtemp(prefix="beacon-bench-backups-"))
    try:
        for engine in args.engines.split(","):
            report(run_engine(engine, args, work), args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
