"""Feature computation: DuckDB SQL over Iceberg tables, written with ``replace_range``.

The SQL may name Iceberg tables as ``namespace.table`` and use the parameters ``$start`` and
``$end``. Each named table is read at ONE snapshot (its current one when the computation
starts), exposed by :mod:`featurestore._internal.duckdb_sql` so that DuckDB pushes column
projection and filters (``WHERE ts >= $start - INTERVAL 7 DAY``) into the scan instead of
loading the whole table.

The result must hold exactly the view's columns, with every timestamp in ``[start, end)``; it
replaces that range atomically, and the snapshot summary records every source table's
snapshot ID (``featurestore.source-snapshots``). DuckDB's session time zone is UTC.

The SQL must be one SELECT (``COPY``, ``ATTACH``, ``INSTALL``... are refused before they
run), and it runs with DuckDB's ``enable_external_access`` off: it can read the Iceberg tables
it names, but no files or URLs of its own (``read_csv(...)``, ``'s3://...'``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from featurestore._internal.duckdb_sql import duckdb_session, expose_table, tables_named_in
from featurestore.errors import DataValidationError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    from pyiceberg.table import Table

    from featurestore.registry.models import FeatureView
    from featurestore.store import FeatureStore
    from featurestore.writes.writer import WriteResult

__all__ = ["materialize", "source_tables"]


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

    start, end = _utc(start, "start"), _utc(end, "end")
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
    """Return the ``namespace.table`` names the feature SQL reads, sorted.

    Raises:
        DataValidationError: The SQL does not parse, or names a table with more than two parts.

    Example:
        >>> source_tables("SELECT * FROM raw.tx WHERE ts >= $start")
        ['raw.tx']
    """
    return tables_named_in(sql, error=DataValidationError, what="feature SQL")


def _run(
    sql: str,
    tables: dict[str, Table],
    snapshots: dict[str, int],
    *,
    start: datetime,
    end: datetime,
) -> pa.Table:
    import duckdb

    with duckdb_session() as con:
        for name, table in sorted(tables.items()):
            expose_table(con, name, table, snapshots.get(name))
        # The SQL reads the exposed tables only: no files, URLs or extensions of its own.
        con.execute("SET enable_external_access = false")
        try:
            params = _used_parameters(con, sql, {"start": start, "end": end})
            return con.sql(sql, params=params).to_arrow_table()
        except duckdb.Error as exc:
            msg = f"The feature SQL failed: {exc}"
            raise DataValidationError(msg) from None


def _used_parameters(
    con: duckdb.DuckDBPyConnection, sql: str, values: dict[str, Any]
) -> dict[str, Any]:
    import duckdb

    statements = con.extract_statements(sql)
    if len(statements) != 1:
        msg = f"The feature SQL must be one SELECT statement, got {len(statements)} statements."
        raise DataValidationError(msg)
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        kind = statement.type.name
        msg = (
            f"The feature SQL must be a SELECT statement, got a {kind} statement. Write a query "
            "(SELECT / WITH ... SELECT) whose result is the view's rows."
        )
        raise DataValidationError(msg)
    used = set(statement.named_parameters)
    unknown = sorted(used - set(values))
    if unknown:
        msg = f"The feature SQL uses unknown parameters {unknown}; only $start and $end exist."
        raise DataValidationError(msg)
    return {k: v for k, v in values.items() if k in used}
