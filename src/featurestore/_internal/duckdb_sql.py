"""DuckDB SQL over Iceberg tables: one session set-up, one way to find and expose the tables.

Feature computation (``store.materialize``) and entity SQL (``get_historical_features`` with a
SQL string) both run user SQL that names Iceberg tables as ``namespace.table``. Here, once:

* :func:`connect_duckdb` opens an in-memory session pinned to UTC, so the host's time zone
  never changes a result, and :func:`duckdb_session` is one that closes itself on another
  thread (closing frees the session's buffers, which takes a while after a large join);
* :func:`tables_named_in` finds the ``namespace.table`` names with DuckDB's own parser;
* :func:`expose_table` makes one table, read at ONE snapshot, visible under its name. It is a
  lazy ``pyarrow.dataset`` over the snapshot's data files (DuckDB pushes projections and
  filters into it, and the SQL may read it several times), or, for snapshots with row-level
  delete files, renamed columns or a non-PyArrow file IO, the snapshot read by PyIceberg.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from featurestore._internal.identifiers import quote_ident
from featurestore.catalog import translate_errors

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    from pyiceberg.table import Table

    from featurestore.config import EngineConfig
    from featurestore.errors import FeatureStoreError

__all__ = ["CLOSER_THREAD", "connect_duckdb", "duckdb_session", "expose_table", "tables_named_in"]

_DUCKDB_SCHEMAS = {"main", "temp", "information_schema", "pg_catalog"}
_PARAMETER = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*")


def connect_duckdb(engine: EngineConfig | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection: UTC session, threads/memory from the config.

    Example:
        >>> from featurestore.config import EngineConfig
        >>> with connect_duckdb(EngineConfig(threads=1)) as con:
        ...     con.execute("SELECT current_setting('TimeZone')").fetchone()
        ('UTC',)
    """
    import duckdb

    config: dict[str, Any] = {}
    if engine is not None:
        settings = {
            "threads": engine.threads,
            "memory_limit": engine.memory_limit,
            "temp_directory": engine.temp_directory,
        }
        config = {k: v for k, v in settings.items() if v is not None}
    con = duckdb.connect(":memory:", config=config)
    con.execute("SET TimeZone = 'UTC'")
    return con


CLOSER_THREAD = "featurestore-duckdb-close"
"""Name of the threads :func:`duckdb_session` closes its connections on."""


@contextlib.contextmanager
def duckdb_session(engine: EngineConfig | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A :func:`connect_duckdb` session for one block, closed on another thread afterwards.

    Closing an in-memory session frees its buffers: 0.15 s after the 10M-row benchmark join
    (1.5 GB of them). DuckDB releases the GIL while it frees them, so the caller goes on at
    once and the memory is returned within that time. Results already fetched do not depend
    on the session (Arrow results own their buffers). The thread is not a daemon: an
    interpreter that exits waits for it.

    Example:
        >>> with duckdb_session() as con:
        ...     con.execute("SELECT 42").fetchone()
        (42,)
    """
    con = connect_duckdb(engine)
    try:
        yield con
    finally:
        threading.Thread(target=con.close, name=CLOSER_THREAD).start()


def tables_named_in(sql: str, *, error: type[FeatureStoreError], what: str) -> list[str]:
    """Return the ``namespace.table`` names ``sql`` reads, sorted (CTEs are not tables).

    Args:
        sql: DuckDB SQL; ``$name`` parameters are allowed.
        error: The error class to raise (each caller's own).
        what: How the caller calls this SQL in messages ("feature SQL", "entity SQL").

    Raises:
        FeatureStoreError: (of class ``error``) The SQL does not parse, or names a table with
            more than two parts.

    Example:
        >>> from featurestore.errors import DataValidationError
        >>> tables_named_in("WITH d AS (SELECT * FROM raw.tx) SELECT * FROM d, raw.users u "
        ...                 "WHERE d.ts >= $start", error=DataValidationError, what="SQL")
        ['raw.tx', 'raw.users']
    """
    import duckdb

    # get_table_names binds the statement, which fails on $parameters: they become NULL here
    # (for finding names only; the SQL runs unchanged).
    try:
        found = duckdb.get_table_names(_PARAMETER.sub("NULL", sql), qualified=True)
    except duckdb.Error as exc:
        msg = f"Cannot parse the {what}: {exc}. Fix the SQL (DuckDB dialect)."
        raise error(msg) from None
    names: set[str] = set()
    for entry in found:
        name = entry.split(" AS ", 1)[0]
        parts = [p.strip('"') for p in name.split(".")]
        if len(parts) == 1 or parts[0] in _DUCKDB_SCHEMAS:
            continue
        if len(parts) > 2:
            msg = (
                f"The {what} names {name!r}: only 'namespace.table' names of Iceberg tables "
                "are supported (nested namespaces are not)."
            )
            raise error(msg)
        names.add(".".join(parts))
    return sorted(names)


def expose_table(
    con: duckdb.DuckDBPyConnection, name: str, table: Table, snapshot_id: int | None
) -> None:
    """Make ``table`` at ``snapshot_id`` (None: no data yet) readable in ``con`` as ``name``."""
    namespace, _, table_name = name.rpartition(".")
    alias = "__fs_source_" + "_".join(name.split("."))
    con.register(alias, _snapshot_source(table, snapshot_id))
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(namespace)}")
    con.execute(
        f"CREATE OR REPLACE VIEW {quote_ident(namespace)}.{quote_ident(table_name)} AS "
        f"SELECT * FROM {quote_ident(alias)}"
    )


def _snapshot_source(table: Table, snapshot_id: int | None) -> Any:
    """A lazy Arrow dataset over the snapshot's data files (or an in-memory fallback)."""
    import pyarrow as pa

    name = ".".join(table.name())
    if snapshot_id is None:  # a table without data yet
        return pa.Table.from_batches([], schema=table.schema().as_arrow())
    scan = table.scan(snapshot_id=snapshot_id)
    schema = scan.projection().as_arrow()
    with translate_errors(f"planning the files of {name!r}"):
        tasks = list(scan.plan_files())
    dataset = _file_dataset(table, tasks, schema)
    if dataset is not None:
        return dataset
    with translate_errors(f"reading {name!r} at snapshot {snapshot_id}"):
        return scan.to_arrow()


def _file_dataset(table: Table, tasks: list[Any], schema: pa.Schema) -> Any:
    """``pyarrow.dataset`` over the tasks' Parquet files, or None when that would be wrong."""
    from urllib.parse import urlparse

    import pyarrow.dataset as ds
    from pyiceberg.io.pyarrow import PyArrowFileIO

    if any(task.delete_files for task in tasks) or _names_changed(table):
        return None
    if not isinstance(table.io, PyArrowFileIO) or not tasks:
        return None
    first = urlparse(tasks[0].file.file_path)
    filesystem = table.io.fs_by_scheme(first.scheme or "file", first.netloc)
    paths = []
    for task in tasks:
        parsed = urlparse(task.file.file_path)
        paths.append(parsed.path if parsed.scheme in ("", "file") else parsed.netloc + parsed.path)
    return ds.dataset(paths, schema=schema, format="parquet", filesystem=filesystem)


def _names_changed(table: Table) -> bool:
    """Whether a column was ever renamed, or a name reused for a new column (a new field ID).

    ``pyarrow.dataset`` matches Parquet columns by name; either change makes a name read
    another column's values in older files (PyIceberg reads by field ID instead).
    """
    names: dict[int, str] = {}
    ids: dict[str, int] = {}
    for schema in table.schemas().values():
        for field in schema.fields:
            renamed = names.setdefault(field.field_id, field.name) != field.name
            if renamed or ids.setdefault(field.name, field.field_id) != field.field_id:
                return True
    return False
