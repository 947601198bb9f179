"""Shared set-up for the benchmarks: a fresh database per engine, migrated and seeded."""
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import create_engine, insert, text, update

ROOT = Path(__file__).resolve().parents[1]
POSTGRES = "postgresql+psycopg://root@127.0.0.1:5432"


def database_url_for(engine, workdir, name):
    if engine == "sqlite":
        return f"sqlite:///{workdir / f'{name}-{uuid.uuid4().hex[:6]}.db'}"
    database = f"beacon_bench_{name}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(f"{POSTGRES}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    return f"{POSTGRES}/{database}"


def drop_database(engine, url):
    if engine != "postgresql":
        return
    database = url.rsplit("/", 1)[1]
    admin = create_engine(f"{POSTGRES}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    admin.dispose()


def migrate(url):
    subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "app", "db", "upgrade"], cwd=ROOT, check=True,
                   env={"PATH": "/usr/bin:/bin", "DATABASE_URL": url, "PYTHONPATH": str(ROOT)},
                   capture_output=True)


def seed_issues(url, count):
    """A user with a token, project WEB, and ``count`` issues; return (token, an issue id)."""
    sys.path.insert(0, str(ROOT))
    from app import create_app
    from app.auth.tokens import issue_token
    from app.extensions import db
    from app.models import Issue, Project
    from app.models.base import utcnow
    from app.projects.service import create_project
    from app.users.service import create_user

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "EMBEDDED_WORKER": False})
    with app.app_context():
        user = create_user(f"bench-{uuid.uuid4().hex[:6]}@bench.test", "Bench", "bench-password")
        project = create_project(user, "WEB", "Benchmark")
        token, _ = issue_token(user)
        now = utcnow()
        rows = [{"project_id": project.id, "number": n, "title": f"Issue number {n} needs a look",
                 "description": "Steps to reproduce: open the page, click the button, wait.",
                 "status": "open", "priority": "medium", "reporter_id": user.id,
                 "created_at": now, "updated_at": now, "version": 1} for n in range(1, count + 1)]
        db.session.execute(insert(Issue), rows)
        db.session.execute(update(Project).where(Project.id == project.id).values(last_issue_number=count))
        db.session.commit()
        issue_id = db.session.execute(text("SELECT MIN(id) FROM issues")).scalar()
        db.engine.dispose()
    return token, issue_id
