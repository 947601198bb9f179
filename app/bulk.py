"""Many rows in one go: COPY on PostgreSQL with psycopg 3, else ``executemany``.

Batches write their issues, events and results through here, and restores and verifies
their tables (``write_rows``). COPY sends the rows as one stream that the server parses
itself. ``INSERT ... RETURNING`` of 10,000 events, in pages of 1,000 rows, cost psycopg
0.45 s of Python parsing and splitting its statements; their COPY takes 0.13 s in all.

On SQLite the rows go to the driver's ``executemany`` as tuples, converted here: Core's
own ``executemany`` builds each row's parameters in Python, which took 0.22 s of a
10,000-operation batch, more than SQLite's 0.12 s of inserting them. Other drivers
(psycopg2) keep Core's path, which batches the rows into multi-row INSERTs.
"""
import gc
from contextlib import contextmanager

from sqlalchemy import insert, select

from .extensions import db


@contextmanager
def collector_paused():
    """Pause Python's cyclic garbage collector for one piece of bulk work.

    10,000 operations make a few hundred thousand small objects, none of them cycles, and
    the collector's passes over them took 15% of a batch run. What cycles the work leaves
    are collected at the next pass after it.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def can_copy(connection):
    return connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg"


def write_rows(connection, table, columns, rows):
    """Write ``rows`` (sequences in ``columns`` order, of values the driver takes as they
    are) into ``table``: COPY where ``can_copy``, else the driver's ``executemany``."""
    with _writing(connection, table, columns, rows):
        pass


def insert_rows(table, rows, connection=None):
    """Insert ``rows`` (dicts with the same keys) into ``table``, in the session's
    transaction (or on ``connection``), with the values Core would send (JSON columns as JSON)."""
    with _inserting(table, rows, connection):
        pass


@contextmanager
def inserting_with_ids(table, rows, scope, order):
    """Insert ``rows`` and yield their ids, in the order of ``rows``; the rows are in when
    the block ends.

    With COPY, the ids are drawn from the table's sequence first, in one query, and the
    block runs while the server takes the rows in on its own core: work placed in it
    (preparing the next rows) costs no time of its own; it must not use the database,
    which is busy with the COPY until the block ends. Otherwise ``(scope, order)`` must
    be unique and just reserved by this transaction (issue numbers, event seqs) and the
    ids are read back by it: RETURNING in parameter order costs SQLite one statement per
    row. One row is one ``INSERT ... RETURNING``.
    """
    if len(rows) == 1:
        yield [db.session.scalar(insert(table).returning(table.c.id), rows[0])]
        return
    connection = db.session.connection()
    if can_copy(connection):
        ids = connection.exec_driver_sql(
            f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) FROM generate_series(1, {len(rows):d})"
        ).scalars().all()
        with _inserting(table, [{"id": row_id, **row} for row_id, row in zip(ids, rows)]):
            yield ids
        return
    insert_rows(table, rows)
    yield _ids_by_key(connection, table, rows, scope, order)


@contextmanager
def _inserting(table, rows, connection=None):
    """Send ``rows``; with COPY, the block runs before the server has taken them all in."""
    if not rows:
        yield
        return
    connection = connection or db.session.connection()
    sqlite = connection.dialect.name == "sqlite"
    if not sqlite and not can_copy(connection):
        connection.execute(insert(table), rows)
        yield
        return
    columns = list(rows[0])
    convert = [(i, _bind_processor(table.c[name], connection.dialect)) for i, name in enumerate(columns)]
    convert = [(i, _remembering(process)) for i, process in convert if process is not None]
    converted = (_converted([row[name] for name in columns], convert) for row in rows)
    with _writing(connection, table, columns, converted):
        yield


@contextmanager
def _writing(connection, table, columns, rows):
    """``write_rows``, with a block that runs while a COPY's server takes the rows in."""
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    if not can_copy(connection):
        mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        values = [tuple(row) for row in rows]
        if values:
            connection.exec_driver_sql(
                f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join([mark] * len(columns))})", values)
        yield
        return
    with connection.connection.driver_connection.cursor() as cursor:
        with cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
            yield  # the server works through the rows meanwhile; leaving waits for it


def _ids_by_key(connection, table, rows, scope, order):
    by_scope = {}
    for row in rows:
        by_scope.setdefault(row[scope], []).append(row[order])
    scope_column, order_column = table.c[scope], table.c[order]
    ids = {}
    for value, orders in by_scope.items():
        found = connection.execute(select(order_column, table.c.id).where(
            scope_column == value, order_column.between(min(orders), max(orders))))
        ids.update({(value, key): row_id for key, row_id in found})
    return [ids[(row[scope], row[order])] for row in rows]


def _bind_processor(column, dialect):
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def _remembering(process):
    """``process`` that reuses its last answer when given the same object again: a batch's
    rows share one timestamp."""
    last = [None, None]

    def remembering(value):
        if value is not last[0]:
            last[0], last[1] = value, process(value)
        return last[1]

    return remembering


def _converted(values, convert):
    for i, process in convert:
        if values[i] is not None:
            values[i] = process(values[i])
    return values
