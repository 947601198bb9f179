"""Write canonical rows into a database, in the caller's transaction.

Canonical values are already what each engine accepts as text: SQLite stores them as
they are, PostgreSQL casts them. The rows go in by ``bulk.write_rows`` (COPY with
psycopg 3, else executemany).
"""
from sqlalchemy import DateTime, Integer
from sqlalchemy.schema import AddConstraint, DropConstraint

def clear_tables(connection, tables):
    """Delete every row of ``tables`` (children first)."""
    quote = connection.dialect.identifier_preparer.quote
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"TRUNCATE {', '.join(quote(t.name) for t in tables)}")
        return
    for table in reversed(tables):
        connection.exec_driver_sql(f"DELETE FROM {quote(table.name)}")


def reset_sequences(connection, tables):
    """Point each PostgreSQL id sequence past the restored rows."""
    if connection.dialect.name != "postgresql":
        return  # SQLite takes max(rowid) + 1 by itself
    quote = connection.dialect.identifier_preparer.quote
    for table in tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not isinstance(keys[0].type, Integer):
            continue
        column = quote(keys[0].name)
        connection.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{quote(table.name)}', '{keys[0].name}'), "
            f"COALESCE(MAX({column}), 1), MAX({column}) IS NOT NULL) FROM {quote(table.name)}")



def suspend_constraints(connection, tables):
    """On PostgreSQL, drop the tables' foreign keys and plain indexes for the load, the way
    ``pg_restore`` builds them after the data: checking and indexing row by row costs 5x.
    DDL is transactional there, so a failure brings them back with everything else.
    Returns the function that puts them back (and checks every foreign key at once)."""
    if connection.dialect.name != "postgresql":
        return lambda: None
    keys = [fk for table in tables for fk in sorted(table.foreign_key_constraints, key=lambda c: c.name)]
    indexes = [index for table in tables for index in sorted(table.indexes, key=lambda i: i.name) if not index.unique]
    for fk in keys:
        connection.execute(DropConstraint(fk))
    for index in indexes:
        index.drop(connection)

    def put_back():
        for index in indexes:
            index.create(connection)
        for fk in keys:
            connection.execute(AddConstraint(fk))

    return put_back


def sqlite_datetime(value):
    """``2026-01-02T03:04:05.6`` -> ``2026-01-02 03:04:05.600000``, the text SQLAlchemy writes."""
    if value is None or (len(value) == 26 and value[10] == " "):
        return value
    value = value.replace("T", " ", 1)
    return value + ".000000" if len(value) == 19 else value.ljust(26, "0")


def datetime_fixer(table, columns, source_engine, target_engine):
    """Rows from PostgreSQL going into SQLite get SQLite's datetime text (it compares text)."""
    if target_engine != "sqlite" or source_engine == "sqlite":
        return lambda rows: rows
    positions = [i for i, name in enumerate(columns) if isinstance(table.columns[name].type, DateTime)]
    if not positions:
        return lambda rows: rows

    def fix(rows):
        for row in rows:
            for i in positions:
                row[i] = sqlite_datetime(row[i])
        return rows

    return fix
