"""Entity input: frames, Arrow, a DuckDB SQL string or an Iceberg table name -> one Arrow table.

Timestamps come out as ``timestamp[us, tz=UTC]`` (naive means UTC, aware is converted).
A SQL string may name Iceberg tables as ``namespace.table``; each is read at one snapshot: the
one pinned for the retrieval when it is a feature table, else its current one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from featurestore._internal.arrow import normalize_timestamps, to_arrow_table
from featurestore._internal.duckdb_sql import expose_table, tables_named_in
from featurestore.catalog import translate_errors
from featurestore.errors import DataValidationError, RetrievalError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from featurestore.store import FeatureStore

__all__ = ["is_table_name", "load_entities"]

_TABLE_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


def is_table_name(text: str) -> bool:
    """Whether ``text`` reads as an Iceberg table name rather than SQL.

    Example:
        >>> is_table_name("fs.entities"), is_table_name("SELECT 1")
        (True, False)
    """
    return bool(_TABLE_NAME.match(text.strip()))


def load_entities(
    store: FeatureStore,
    data: Any,
    con: duckdb.DuckDBPyConnection,
    *,
    pinned: Mapping[str, int | None],
) -> pa.Table:
    """Return the entity rows as an Arrow table with UTC-microsecond timestamps.

    Args:
        store: The store (to load tables named by a string input).
        data: pandas / polars frame, Arrow table or reader, SQL string, or table name.
        con: The DuckDB connection SQL input runs on.
        pinned: Table name -> snapshot ID for tables that must be read at a fixed snapshot.

    Raises:
        RetrievalError: Unsupported input, or the SQL failed.
        NotFoundError: A named table does not exist.
    """
    if isinstance(data, str):
        if is_table_name(data):
            table = _read_table(store, data.strip(), pinned)
        else:
            table = _run_sql(store, data, con, pinned)
    else:
        try:
            table = to_arrow_table(data, what="entity rows")
        except DataValidationError as exc:
            raise RetrievalError(str(exc)) from None
    try:
        return normalize_timestamps(table)
    except DataValidationError as exc:
        raise RetrievalError(str(exc)) from None


def _read_table(store: FeatureStore, name: str, pinned: Mapping[str, int | None]) -> pa.Table:
    table = store.load_table(name)
    snapshot = pinned.get(name, _current(table))
    with translate_errors(f"reading entity table {name!r}"):
        if snapshot is None:
            return table.schema().as_arrow().empty_table()
        return table.scan(snapshot_id=snapshot).to_arrow()


def _current(table: Any) -> int | None:
    current = table.current_snapshot()
    return None if current is None else int(current.snapshot_id)


def _run_sql(
    store: FeatureStore, sql: str, con: duckdb.DuckDBPyConnection, pinned: Mapping[str, int | None]
) -> pa.Table:
    import duckdb

    for name in tables_named_in(sql, error=RetrievalError, what="entity SQL"):
        table = store.load_table(name)
        expose_table(con, name, table, pinned.get(name, _current(table)))
    try:
        return con.sql(sql).to_arrow_table()
    except duckdb.Error as exc:
        msg = f"The entity SQL failed: {exc}. Query: {sql!r}"
        raise RetrievalError(msg) from None
