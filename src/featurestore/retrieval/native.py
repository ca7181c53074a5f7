"""DuckDB reads a planned scan's Parquet files itself, when that gives the same rows.

PyIceberg plans the scan (snapshot, time range, key bounds); when every planned file is a
local Parquet file without delete files and every column maps to a plain DuckDB type, the
files are handed to DuckDB's ``read_parquet`` instead of being read in Python. Columns are
matched by Iceberg **field ID** (``read_parquet(..., schema=MAP {id: {name, type, default}})``),
so renamed, promoted and added columns read exactly as PyIceberg reads them (an added column is
NULL in older files). The commit-order column :data:`~featurestore.retrieval.scan.ORDER_COLUMN`
becomes ``file_index << 40 | file_row_number`` (DuckDB's virtual columns: the file's
position in the list, the row's position in its file): the same order as the Python path (files
in :func:`~featurestore.retrieval.planning.commit_order`, rows in file order), so ties break the
same way. Paths are glob-escaped: ``read_parquet`` would expand ``*``, ``?`` and ``[...]``.

Not used (the Python path reads instead) for: known-at mode (commit times), files with delete
files, remote files, tables with a name mapping (files may lack field IDs), identity-partitioned
columns (a writer may leave them out of the files), and types without a listed DuckDB type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from featurestore._internal.identifiers import quote_ident as q
from featurestore._internal.timeutil import as_utc

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    from pyiceberg.schema import Schema
    from pyiceberg.table import FileScanTask, Table

__all__ = ["NativeScan", "native_scan", "register", "where_sql"]

_ROW_BITS = 40  # rows per file < 2**40; files per scan < 2**23
_NAME_MAPPING = "schema.name-mapping.default"
_TYPES = {
    "boolean": "BOOLEAN",
    "int": "INTEGER",
    "long": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMPTZ",
    "string": "VARCHAR",
    "binary": "BLOB",
}


@dataclass(frozen=True)
class NativeScan:
    """A scan DuckDB reads itself.

    Attributes:
        paths: Local data files, in commit order (their rank is their position).
        columns: ``(name, field ID, DuckDB type)`` per column; a field ID a file lacks (a
            column added after it was written) reads as NULL.
        schema: The Arrow schema the Python path would give (result types are cast to it).
        where: SQL condition on the rows (the scan's row filter), or empty.
    """

    paths: tuple[str, ...]
    columns: tuple[tuple[str, int, str], ...]
    schema: pa.Schema
    where: str = ""


def native_scan(
    table: Table,
    projected: Schema,
    tasks: Sequence[FileScanTask],
    schema: pa.Schema,
    *,
    where: str = "",
) -> NativeScan | None:
    """The native plan of ``tasks`` (already in commit order), or None when it does not apply.

    Example:
        >>> native_scan.__name__
        'native_scan'
    """
    if not tasks or table.metadata.properties.get(_NAME_MAPPING):
        return None
    paths = [_local_path(task) for task in tasks]
    if any(p is None for p in paths) or _identity_partitioned(table, projected):
        return None
    mapped: list[tuple[str, int, str]] = []
    for field in projected.fields:
        kind = _duckdb_type(field.field_type)
        if kind is None:
            return None
        mapped.append((field.name, field.field_id, kind))
    return NativeScan(tuple(p for p in paths if p is not None), tuple(mapped), schema, where)


def register(con: duckdb.DuckDBPyConnection, relation: str, scan: NativeScan) -> None:
    """Create the temporary view ``relation`` over the files (same columns as the Python path).

    Example:
        >>> import duckdb, pyarrow as pa
        >>> con = duckdb.connect()
        >>> register(con, "s", NativeScan((), (), pa.schema([])))
        Traceback (most recent call last):
        ...
        ValueError: A native scan needs at least one file.
    """
    if not scan.paths:
        msg = "A native scan needs at least one file."
        raise ValueError(msg)
    entries = ", ".join(
        f"{field_id}: {{name: {_literal(name)}, type: {_literal(kind)}, default_value: NULL}}"
        for name, field_id, kind in scan.columns
    )
    selected = [f"p.{q(name)}" for name, _, _ in scan.columns]
    # BIGINT, like the Python path's int64 (UBIGINT index + BIGINT row would be a HUGEINT,
    # a twice-as-wide sort key in the join's rank)
    order = f"CAST((p.file_index << {_ROW_BITS}) + p.file_row_number AS BIGINT) AS __fs_order"
    paths = ", ".join(_literal(_glob_escaped(p)) for p in scan.paths)
    source = f"read_parquet([{paths}], schema = MAP {{{entries}}}, file_row_number = true)"
    where = f" WHERE {scan.where}" if scan.where else ""
    con.execute(
        f"CREATE TEMP VIEW {q(relation)} AS SELECT {', '.join([*selected, order])} "
        f"FROM {source} p{where}"
    )


def where_sql(
    ts_field: str,
    *,
    low: datetime | None,
    high: datetime | None,
    keys: Mapping[str, Sequence[int | str]] | None = None,
) -> str:
    """The scan's row filter as DuckDB SQL: ``low <= ts <= high AND key IN (...)``.

    Example:
        >>> from datetime import datetime, UTC
        >>> print(where_sql("ts", low=None, high=datetime(2024, 1, 2, tzinfo=UTC), keys={"k": [1]}))
        "ts" <= '2024-01-02T00:00:00+00:00'::TIMESTAMPTZ AND "k" IN (1)
    """
    parts: list[str] = []
    if low is not None:
        parts.append(f"{q(ts_field)} >= {_timestamp(low)}")
    if high is not None:
        parts.append(f"{q(ts_field)} <= {_timestamp(high)}")
    for column, values in (keys or {}).items():
        items = ", ".join(str(int(v)) if isinstance(v, int) else _literal(str(v)) for v in values)
        parts.append(f"{q(column)} IN ({items})")
    return " AND ".join(parts)


def _timestamp(value: datetime) -> str:
    return f"{_literal(as_utc(value).isoformat())}::TIMESTAMPTZ"


def _glob_escaped(path: str) -> str:
    """``path`` as a DuckDB glob pattern matching exactly that file.

    ``read_parquet`` expands ``*``, ``?`` and ``[...]`` in every path it is given, so a folder
    named ``a[x]`` would read ``ax`` (or nothing); each is escaped as a one-character class.

    Example:
        >>> _glob_escaped("/w/a[x]/f*?.parquet")
        '/w/a[[]x[]]/f[*][?].parquet'
    """
    return _GLOB.sub(lambda m: f"[{m.group(0)}]", path)


_GLOB = re.compile(r"[*?\[\]]")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _local_path(task: FileScanTask) -> str | None:
    if task.delete_files or str(task.file.file_format).upper().find("PARQUET") < 0:
        return None
    path = task.file.file_path
    if path.startswith("file://"):
        return path[len("file://") :]
    return path if path.startswith("/") else None


def _identity_partitioned(table: Table, projected: Schema) -> bool:
    from pyiceberg.transforms import IdentityTransform

    wanted = {field.field_id for field in projected.fields}
    return any(
        isinstance(f.transform, IdentityTransform) and f.source_id in wanted
        for spec in table.specs().values()
        for f in spec.fields
    )


def _duckdb_type(kind: Any) -> str | None:
    from pyiceberg.types import DecimalType

    if isinstance(kind, DecimalType):
        return f"DECIMAL({kind.precision}, {kind.scale})"
    return _TYPES.get(str(kind))
