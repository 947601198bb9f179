"""Bulk inserts in the session's transaction: COPY on PostgreSQL (psycopg 3), else Core
``executemany``. Both see the same rows and the same transaction."""
from sqlalchemy import insert, select

from ..extensions import db


def _copy_driver(connection):
    return connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg"


def insert_rows(table, rows):
    """Insert ``rows`` (dicts with the same keys) into ``table``."""
    if not rows:
        return
    connection = db.session.connection()
    if not _copy_driver(connection):
        connection.execute(insert(table), rows)
        return
    columns = list(rows[0])
    cursor = connection.connection.driver_connection.cursor()
    names = ", ".join(f'"{name}"' for name in columns)
    with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([row[name] for name in columns])


def insert_issues(table, rows):
    """Insert issue rows; return their ids in the order of ``rows``.

    (project_id, number) is unique and the numbers were just reserved by this transaction,
    so the ids are read back by number: RETURNING in parameter order would cost SQLite one
    statement per row, and rules out COPY on PostgreSQL.
    """
    connection = db.session.connection()
    insert_rows(table, rows)
    ids = {}
    by_project = {}
    for row in rows:
        by_project.setdefault(row["project_id"], []).append(row["number"])
    for project_id, numbers in by_project.items():
        ids.update({(project_id, n): i for n, i in connection.execute(
            select(table.c.number, table.c.id).where(table.c.project_id == project_id,
                                                     table.c.number.between(min(numbers), max(numbers))))})
    return [ids[(row["project_id"], row["number"])] for row in rows]
