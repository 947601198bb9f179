"""A backup made on one engine restores into the other (SQLite -> PostgreSQL and back)."""
import pytest

from app.backups import service
from app.extensions import db
from tests import conftest
from tests.support import services
from tests.support.backups import dump, populate, repo_dir

__all__ = ["repo_dir"]


@pytest.fixture
def other_app(backend, repo_dir):
    """An app on a fresh, migrated database of the other engine, sharing the repository."""
    from app import create_app

    other = "postgresql" if backend == "sqlite" else "sqlite"
    if other not in services.backends():  # unreachable fails inside backends(); this is TEST_DATABASES narrowing
        pytest.skip(f"cross-engine restore needs {other}, left out by TEST_DATABASES")
    url = services.create_database(other, conftest.INSTANCE)
    services.migrate(url)
    made = create_app(conftest.test_config(url, BACKUP_DIR=str(repo_dir)))
    yield made
    services.dispose(made)
    services.drop_database(other, url)


def test_backup_restores_into_the_other_engine(app, factory, other_app):
    populate(factory)
    record = service.run_backup(None, "cross")
    source = dump(db)
    with other_app.app_context():
        result = service.run_restore(record["id"])
        assert result["safety_backup"]
        assert dump(db) == source
        if db.engine.dialect.name == "sqlite":  # stored as the text SQLAlchemy writes, so text comparisons hold
            stamps = db.session.execute(db.text("SELECT created_at FROM issues")).scalars().all()
            assert stamps and all(len(s) == 26 and s[10] == " " for s in stamps)
        again = service.run_backup(None, "made on the other engine")
        assert again["engine"] != record["engine"] and again["status"] == "verified"
        db.session.remove()
