"""A failed SQL statement never shows its bound values: not in the exception, not in the log."""
import logging

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.extensions import db

SECRET = "hunter2-the-password"


def failing_statement():
    db.session.execute(text("SELECT * FROM no_such_table WHERE password = :secret"), {"secret": SECRET})


def test_a_failed_statement_hides_its_parameters(app):
    with pytest.raises(DBAPIError) as failed:
        failing_statement()
    db.session.rollback()
    assert SECRET not in str(failed.value) and "parameters hidden" in str(failed.value)


def test_a_500_from_the_database_logs_no_parameters(app, client, factory, monkeypatch, caplog):
    from app.projects import service

    monkeypatch.setattr(service, "list_projects", lambda *_args: failing_statement())
    with caplog.at_level(logging.ERROR):
        response = client.get("/api/v1/projects", headers=factory.headers(factory.user()))
    assert response.status_code == 500 and SECRET not in response.get_data(as_text=True)
    logged = [record for record in caplog.records if record.exc_info]
    assert logged and "no_such_table" in caplog.text
    assert SECRET not in caplog.text and all(SECRET not in logging.Formatter().formatException(r.exc_info)
                                             for r in logged)
