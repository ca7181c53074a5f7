"""Feature computation: DuckDB SQL over Iceberg tables, written with ``replace_range``.

The SQL may name Iceberg tables as ``namespace.table`` (found with DuckDB's own parser,
``duckdb.get_table_names``) and use the parameters ``$start`` and ``$end``. Each named table
is read at ONE snapshot (its current one when the computation starts) and exposed to DuckDB
as a lazy ``pyarrow.dataset`` over that snapshot's data files, so DuckDB pushes column
projection and filters (``WHERE ts >= $start - INTERVAL 7 DAY``) into the scan instead of
loading the whole table. Tables whose snapshot has row-level delete files, or whose columns
were renamed, are read through PyIceberg into memory instead (still at that one snapshot).

The result must hold exactly the view's columns, with every timestamp in ``[start, end)``; it
replaces that range atomically, and the snapshot summary records every source table's
snapshot ID (``featurestore.source-snapshots``). DuckDB's session time zone is UTC.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from featurestore.catalog import translate_errors
from featurestore.errors import DataValidationError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    from pyiceberg.table import Table

    from featurestore.registry.models import FeatureView
    from featurestore.store import FeatureStore
    from featurestore.writes.writer import WriteResult

__all__ = ["materialize", "source_tables"]

_DUCKDB_SCHEMAS = {"main", "temp", "information_schema", "pg_catalog"}
_PARAMETER = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*")


def materialize(
    store: FeatureStore,
    view: str | FeatureView,
    sql: str,
    *,
    start: datetime,
    end: datetime,
) -> WriteResult:
    """Run ``sql`` over Iceberg tables and replace ``[start, end)`` of ``view`` with its result.

    Args:
        store: The feature store.
        view: The target view (name or FeatureView).
        sql: One DuckDB SELECT; may name Iceberg tables and use ``$start`` / ``$end``.
        start: Start of the computed range, inclusive (naive = UTC).
        end: End of the computed range, exclusive.

    Returns:
        The write result; its snapshot summary records the source snapshot IDs.

    Raises:
        DataValidationError: The SQL fails, or its result does not fit the view / range.
        NotFoundError: The SQL names a table the catalog does not have.

    Example:
        >>> import featurestore, tempfile, datetime as dt
        >>> from featurestore import Entity, Feature, FeatureView
        >>> store = featurestore.connect(home=tempfile.mkdtemp())
        >>> store.apply([Entity(name="user", join_keys=["user_id"]), FeatureView(
        ...     name="one", entities=["user"], table="features.one",
        ...     features=[Feature(name="x", dtype="int64")])])  # doctest: +ELLIPSIS
        ApplyResult(...)
        >>> sql = "SELECT 1::BIGINT AS user_id, $start::TIMESTAMPTZ AS event_timestamp, 7 AS x"
        >>> materialize(store, "one", sql, start=dt.datetime(2024, 1, 1),
        ...             end=dt.datetime(2024, 1, 2)).rows_written
        1
    """
    from featurestore.writes.writer import FeatureWriter, _utc

    start, end = _utc(start), _utc(end)
    names = source_tables(sql)
    tables = {name: store.load_table(name) for name in names}
    snapshots = {
        name: snap.snapshot_id
        for name, table in tables.items()
        if (snap := table.current_snapshot()) is not None
    }
    result = _run(sql, tables, snapshots, start=start, end=end)
    return FeatureWriter(store).write(
        view, result, mode="replace_range", start=start, end=end, source_snapshots=snapshots
    )


def source_tables(sql: str) -> list[str]:
    """Return the ``namespace.table`` names ``sql`` reads, sorted (CTEs are not tables).

    Raises:
        DataValidationError: The SQL does not parse, or names a table with more than two parts.

    Example:
        >>> source_tables("WITH d AS (SELECT * FROM raw.tx) SELECT * FROM d, raw.users u "
        ...               "WHERE d.ts >= $start")
        ['raw.tx', 'raw.users']
    """
    import duckdb

    # get_table_names binds the statement, which fails on $parameters: they become NULL here
    # (for finding names only; the SQL runs unchanged).
    unparameterised = _PARAMETER.sub("NULL", sql)
    try:
        found = duckdb.get_table_names(unparameterised, qualified=True)
    except duckdb.Error as exc:
        msg = f"Cannot parse the feature SQL: {exc}. Fix the SQL (DuckDB dialect)."
        raise DataValidationError(msg) from None
    names: set[str] = set()
    for entry in found:
        name = entry.split(" AS ", 1)[0]
        parts = [p.strip('"') for p in name.split(".")]
        if len(parts) == 1 or parts[0] in _DUCKDB_SCHEMAS:
            continue
        if len(parts) > 2:
            msg = (
                f"The feature SQL names {name!r}: only 'namespace.table' names of Iceberg tables "
                "are supported (nested namespaces are not)."
            )
            raise DataValidationError(msg)
        names.add(".".join(parts))
    return sorted(names)


def _run(
    sql: str,
    tables: dict[str, Table],
    snapshots: dict[str, int],
    *,
    start: datetime,
    end: datetime,
) -> pa.Table:
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        for index, (name, table) in enumerate(sorted(tables.items())):
            _register(con, index, name, _snapshot_source(table, snapshots.get(name)))
        try:
            params = _used_parameters(con, sql, {"start": start, "end": end})
            return con.sql(sql, params=params).to_arrow_table()
        except duckdb.Error as exc:
            msg = f"The feature SQL failed: {exc}"
            raise DataValidationError(msg) from None
    finally:
        con.close()


def _used_parameters(
    con: duckdb.DuckDBPyConnection, sql: str, values: dict[str, Any]
) -> dict[str, Any]:
    statements = con.extract_statements(sql)
    if len(statements) != 1:
        msg = f"The feature SQL must be one SELECT statement, got {len(statements)} statements."
        raise DataValidationError(msg)
    used = set(statements[0].named_parameters)
    unknown = sorted(used - set(values))
    if unknown:
        msg = f"The feature SQL uses unknown parameters {unknown}; only $start and $end exist."
        raise DataValidationError(msg)
    return {k: v for k, v in values.items() if k in used}


def _register(con: duckdb.DuckDBPyConnection, index: int, name: str, source: Any) -> None:
    from featurestore._internal.identifiers import quote_ident

    namespace, _, table = name.partition(".")
    alias = f"__featurestore_source_{index}"
    con.register(alias, source)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(namespace)}")
    con.execute(
        f"CREATE VIEW {quote_ident(namespace)}.{quote_ident(table)} AS "
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
    import pyarrow.dataset as ds
    from pyiceberg.io.pyarrow import PyArrowFileIO

    if any(task.delete_files for task in tasks) or _has_renames(table):
        return None
    if not isinstance(table.io, PyArrowFileIO) or not tasks:
        return None
    from urllib.parse import urlparse

    first = urlparse(tasks[0].file.file_path)
    filesystem = table.io.fs_by_scheme(first.scheme or "file", first.netloc)
    paths = []
    for task in tasks:
        parsed = urlparse(task.file.file_path)
        paths.append(parsed.path if parsed.scheme in ("", "file") else parsed.netloc + parsed.path)
    return ds.dataset(paths, schema=schema, format="parquet", filesystem=filesystem)


def _has_renames(table: Table) -> bool:
    names: dict[int, str] = {}
    for schema in table.schemas().values():
        for field_id, name in ((f.field_id, f.name) for f in schema.fields):
            if names.setdefault(field_id, name) != name:
                return True
    return False
