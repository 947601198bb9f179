"""Take a snapshot: every application table, read in one transaction, into chunks.

Values are stored in a form both engines read, so a backup restores into SQLite or
PostgreSQL alike, and the same rows always make the same chunk: datetimes as ISO 8601
text (UTC; SQLite's ``YYYY-MM-DD HH:MM:SS.ffffff``, PostgreSQL's JSON rendering), JSON
columns as their stored text, booleans as JSON booleans. Rows are grouped by primary-key range (``CHUNK_SPAN`` ids a chunk), so a
change rewrites only the chunk of its range and a new row only the last one.
"""
import hashlib
import itertools
import json
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from operator import itemgetter

import zstandard
from sqlalchemy import JSON, Boolean, DateTime, Integer, Text, case, cast, create_engine, event, func, select, type_coerce
from sqlalchemy.pool import NullPool

from ..extensions import db

CHUNK_SPAN = 1000  # primary-key values per chunk
second = itemgetter(1)
ZSTD_LEVEL = 3
EXCLUDED = {"backups"}  # the catalog mirrors the repository; it is not backed up


def application_tables():
    """Every table the snapshot holds, parents before children."""
    return [t for t in db.metadata.sorted_tables if t.name not in EXCLUDED]


def column_kind(column):
    kind = column.type
    if isinstance(kind, DateTime):
        return "datetime"
    if isinstance(kind, JSON):
        return "json"
    if isinstance(kind, Boolean):
        return "bool"
    if isinstance(kind, Integer):
        return "int"
    return "text"


@contextmanager
def read_transaction():
    """One consistent read transaction: REPEATABLE READ READ ONLY on PostgreSQL; on SQLite a
    plain deferred BEGIN (the app's engine takes a write lock; a snapshot must not)."""
    engine = db.engine
    if engine.dialect.name == "sqlite":
        reader = create_engine(engine.url, poolclass=NullPool)

        @event.listens_for(reader, "connect")
        def on_connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA busy_timeout=10000")

        @event.listens_for(reader, "begin")
        def on_begin(connection):
            connection.exec_driver_sql("BEGIN")

        try:
            with reader.connect() as connection, connection.begin():
                yield connection
        finally:
            reader.dispose()
    else:
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with connection.begin():
                yield connection


def database_revision(connection):
    rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    return ",".join(sorted(rows))


def _value_expression(column, dialect):
    """The column in its canonical form, as an argument of the database's JSON array function."""
    kind = column_kind(column)
    if dialect == "postgresql":
        # Datetimes are left to json_build_array (ISO 8601, "T", trailing zeros dropped):
        # to_char doubled the server's time. restore.py makes them canonical for SQLite.
        if kind == "json":
            return cast(column, Text)
        return column
    if kind == "json":
        return type_coerce(column, Text)
    if kind == "bool":  # SQLite stores 0/1: make it a JSON boolean
        return func.json(case((column.is_(None), "null"), (column == 0, "false"), else_="true"))
    return column  # datetimes are already stored as canonical text


def _table_chunks(connection, table):
    """Yield ``(chunk key, [row as JSON text, ...])`` in primary-key order.

    The database itself renders each row as a JSON array (SQLite ``json_array``,
    PostgreSQL ``json_build_array``): one string a row crosses into Python instead of a
    dozen objects, and nothing is encoded again here.
    """
    dialect = connection.dialect.name
    values = [_value_expression(c, dialect) for c in table.columns]
    array = func.json_array(*values) if dialect == "sqlite" else cast(func.json_build_array(*values), Text)
    first = list(table.primary_key.columns)[0]
    query = select(first, type_coerce(array, Text)).order_by(*table.primary_key.columns)
    sql = str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    numbered = column_kind(first) == "int"
    counter = itertools.count()
    driver = connection.connection.driver_connection
    if dialect == "postgresql" and connection.dialect.driver == "psycopg":
        cursor = driver.cursor(name=f"beacon_backup_{table.name}")
        cursor.itersize = 5000
    else:
        cursor = driver.cursor()
    try:
        cursor.execute(sql)
        current, rows = None, []
        while True:
            batch = cursor.fetchmany(5000)
            if not batch:
                break
            if not numbered:
                batch = [(next(counter), row) for _key, row in batch]
            for key, group in itertools.groupby(batch, key=lambda item: item[0] // CHUNK_SPAN):
                if key != current and rows:
                    yield current, rows
                    rows = []
                current = key
                rows.extend(map(second, group))
        if rows:
            yield current, rows
    finally:
        cursor.close()


def raw_dictionary(base_body):
    return zstandard.ZstdCompressionDict(base_body, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


class ChunkWriter:
    """Store a chunk whole, or as a delta on the previous backup's chunk of the same range.

    A delta is the new content compressed with the old one as zstd's dictionary: a changed
    row in a range of a thousand costs about that row. A delta's base is always a whole
    chunk (a new delta of a range that is already a delta uses the same base), so reading
    any chunk takes at most two.
    """

    def __init__(self, repository, sealer, previous=None):
        self.repository, self.sealer = repository, sealer
        self.previous = previous  # (table, key) -> manifest chunk entry; and .load(entry) -> base body
        self.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
        self.new_bytes = 0

    def write(self, table_name, key, body):
        stored = self.sealer.seal_chunk(self.compressor.compress(body))
        entry = {"key": key, "bytes": len(stored)}
        name = hashlib.sha256(stored).hexdigest()
        base = self.previous.base_of(table_name, key) if self.previous else None
        if not self.repository.has_chunk(name) and base is not None:
            base_body = self.previous.load(base)
            if base_body is not None:
                delta = zstandard.ZstdCompressor(level=ZSTD_LEVEL, dict_data=raw_dictionary(base_body)).compress(body)
                delta = self.sealer.seal_chunk(delta)
                if len(delta) * 2 < len(stored):
                    stored = delta
                    entry.update(bytes=len(stored), base=base["hash"], base_bytes=base["bytes"])
        entry["hash"], written = self.repository.put_chunk(stored)
        self.new_bytes += written
        return entry


    def write_whole(self, body):
        """Store ``body`` as one whole chunk (an attachment's piece); return its entry."""
        stored = self.sealer.seal_chunk(self.compressor.compress(body))
        name, written = self.repository.put_chunk(stored)
        self.new_bytes += written
        return {"hash": name, "bytes": len(stored)}


def write_tables(connection, writer):
    """Write every table's chunks; return the manifest's table list.

    Compressing and writing run in a second thread (zstd and file I/O release the GIL)
    while this one reads the next rows.
    """
    tables = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="backup-writer") as pool:
        for table in application_tables():
            columns = [c.name for c in table.columns]
            entry = {"name": table.name, "columns": columns, "rows": 0, "chunks": []}
            head = json.dumps({"table": table.name, "columns": columns}, separators=(",", ":"))[:-1] + ',"rows":['
            pending = []
            for key, rows in _table_chunks(connection, table):
                body = (head + ",".join(rows) + "]}").encode()
                pending.append((pool.submit(writer.write, table.name, key, body), len(rows)))
                if len(pending) >= 16:  # bound the memory held by chunks waiting to be written
                    _collect(entry, pending[:8])
                    del pending[:8]
            _collect(entry, pending)
            tables.append(entry)
    return tables


def _collect(entry, pending):
    for future, count in pending:
        chunk = future.result()
        chunk["rows"] = count
        entry["chunks"].append(chunk)
        entry["rows"] += count
