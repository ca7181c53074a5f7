"""Pruned, streamed PyIceberg scans of feature tables (snapshots: :mod:`.snapshots`).

A scan reads one table at one snapshot, only the needed columns, only the rows that pass a
PyIceberg row filter (time range, and keys when few), from the files its plan keeps (see
:mod:`featurestore.retrieval.planning`: pruning, commit order, folding), as Arrow record
batches (or, in event mode, as a plan DuckDB reads itself: :mod:`featurestore.retrieval.native`).
Files are read in the plan's order and every row gets:

* ``__fs_order`` (int64): increasing in that order, so "the row committed last" is the row
  with the greatest value (deterministic tie-break);
* ``__fs_commit`` (timestamp UTC, known-at mode only): commit time of the snapshot that added
  the row's data file, for rows without ``_ingested_at``; if that snapshot was expired and a
  row needs it, the scan raises :class:`~featurestore.errors.SnapshotNotFoundError`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from featurestore._internal.timeutil import epoch_micros
from featurestore.catalog import translate_errors
from featurestore.errors import RetrievalError, SnapshotNotFoundError
from featurestore.registry.models import INGESTED_AT
from featurestore.retrieval.native import NativeScan, native_scan
from featurestore.retrieval.planning import FileInfo, ScanStats, plan_files
from featurestore.retrieval.snapshots import resolve_field

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.schema import Schema
    from pyiceberg.table import FileScanTask, Table

__all__ = ["COMMIT_COLUMN", "ORDER_COLUMN", "Scan", "row_filter", "scan"]

ORDER_COLUMN = "__fs_order"
COMMIT_COLUMN = "__fs_commit"
_READ_AHEAD = 4


def row_filter(
    ts_field: str,
    *,
    low: datetime | None,
    high: datetime | None,
    keys: dict[str, list[Any]] | None = None,
) -> BooleanExpression:
    """The PyIceberg filter ``low <= ts <= high AND key IN (...)`` (parts left out when None).

    Example:
        >>> str(row_filter("ts", low=None, high=None))
        'AlwaysTrue()'
    """
    from pyiceberg import expressions as ex

    # pyiceberg's predicate classes confuse mypy's pydantic handling; call them untyped.
    ge: Any = ex.GreaterThanOrEqual
    le: Any = ex.LessThanOrEqual
    not_null: Any = ex.NotNull
    is_in: Any = ex.In
    expr: BooleanExpression = ex.AlwaysTrue()
    if low is not None:
        expr = ex.And(expr, ge(ts_field, epoch_micros(low)))
    if high is not None:
        expr = ex.And(expr, le(ts_field, epoch_micros(high)))
    for column, values in (keys or {}).items():
        expr = ex.And(expr, not_null(column))
        expr = ex.And(expr, is_in(column, values))
    return expr


class Scan(NamedTuple):
    """A planned scan.

    Attributes:
        source: The batches, or the plan DuckDB reads itself.
        stats: What was planned (and read, as it is read).
        folded: Whether the ``fold`` column is folded into :data:`ORDER_COLUMN`.
        tie_free: Whether no two rows share their ``unique_on`` values (proven from metadata).
    """

    source: pa.RecordBatchReader | NativeScan
    stats: ScanStats
    folded: bool = False
    tie_free: bool = False


def scan(
    table: Table,
    snapshot_id: int | None,
    columns: Sequence[str],
    expr: BooleanExpression,
    *,
    threads: int,
    name: str,
    schema: Schema,
    key_bounds: Mapping[str, Sequence[Any]] | None = None,
    commit_times: bool = False,
    ingested: str | None = None,
    native_where: str | None = None,
    fold: str | None = None,
    unique_on: Sequence[str] = (),
) -> Scan:
    """Stream ``columns`` of ``table`` at ``snapshot_id`` (None: empty) filtered by ``expr``.

    The batches carry :data:`ORDER_COLUMN`, and :data:`COMMIT_COLUMN` when ``commit_times``
    (see the module doc).

    Args:
        table: The loaded table.
        snapshot_id: The snapshot to read (None: the table is read as empty).
        columns: Columns to read, by name in ``schema`` or else in the current schema (see
            :func:`~featurestore.retrieval.snapshots.resolve_field`); a column the
            snapshot's files lack reads as NULL.
        expr: PyIceberg row filter (partition, file and row pruning).
        threads: Files read in parallel.
        name: The table name, for messages.
        schema: The schema names resolve in (see
            :func:`~featurestore.retrieval.snapshots.read_schema`).
        key_bounds: Column -> sorted wanted key values, for file pruning
            (:func:`~featurestore.retrieval.planning.plan_files`).
        commit_times: Add :data:`COMMIT_COLUMN` (known-at mode).
        ingested: The ``_ingested_at`` column, if read: with ``commit_times``, a file whose
            adding snapshot was expired is an error only when one of its rows lacks it.
        native_where: ``expr`` as DuckDB SQL: when given, return a
            :class:`~featurestore.retrieval.native.NativeScan` (DuckDB reads the files)
            instead of a reader when it applies (see that module).
        fold: A column ranked right before the commit position (``_ingested_at``) to fold
            into the file order when the manifests allow (see
            :mod:`~featurestore.retrieval.planning`): :data:`ORDER_COLUMN` alone then ranks
            as ``(fold, ORDER_COLUMN)`` did, and the result says ``folded``.
        unique_on: The join keys and the event-time column, last: when the planned files are
            proven to hold no two rows with the same values of them, the result says
            ``tie_free`` (see :mod:`~featurestore.retrieval.bounds`).

    Raises:
        CatalogError: Reading the manifests or files failed.
        SnapshotNotFoundError: A commit time is needed but its snapshot was expired.
    """
    import pyarrow as pa
    from pyiceberg.io.pyarrow import ArrowScan

    stats = ScanStats()
    with translate_errors(f"planning the scan of {name!r}"):
        projected = _projection(table, schema, columns)
        target = _with_system_fields(_arrow(projected), commit_times=commit_times)
        if snapshot_id is None:
            return Scan(pa.RecordBatchReader.from_batches(target, iter(())), stats)
        plan = plan_files(
            table,
            snapshot_id,
            expr,
            key_bounds or {},
            stats,
            schema=schema,
            fold=fold,
            unique_on=unique_on,
        )
    tasks, files = plan.tasks, plan.files
    if native_where is not None and not commit_times:
        native = native_scan(table, projected, tasks, target, where=native_where)
        if native is not None:
            stats.rows_read = None  # DuckDB reads the files; it does not count for us
            return Scan(native, stats, plan.folded, plan.tie_free)
    commits = _Commits(table, name, ingested) if commit_times else None
    reader = ArrowScan(plan.metadata, table.io, projected, plan.row_filter, case_sensitive=True)
    batches = _ordered_batches(reader, tasks, target, threads=threads, name=name)
    annotated = _annotated(batches, files, target, commits, stats)
    source = pa.RecordBatchReader.from_batches(target, annotated)
    return Scan(source, stats, plan.folded, plan.tie_free)


def _projection(table: Table, schema: Schema, columns: Sequence[str]) -> Schema:
    """The fields read for ``columns``, in order, each resolved by :func:`resolve_field`.

    A field the read snapshot's files lack (added since) reads as NULL: Iceberg matches
    columns by field ID.

    Raises:
        RetrievalError: A column resolves nowhere, or two resolve to one field (a view naming
            a column by its old and its new name).
    """
    from pyiceberg.schema import Schema

    fields = []
    for name in columns:
        field = resolve_field(table, schema, name)
        if field is None:
            msg = f"Table {'.'.join(table.name())!r} has no column {name!r}."
            raise RetrievalError(msg)
        fields.append(field)
    ids = [f.field_id for f in fields]
    if len(set(ids)) != len(ids):
        same = [c for c, i in zip(columns, ids, strict=True) if ids.count(i) > 1]
        msg = (
            f"Columns {same} of table {'.'.join(table.name())!r} are one column (renamed "
            "between the snapshot read and now): name it once."
        )
        raise RetrievalError(msg)
    return Schema(*fields, schema_id=schema.schema_id)


def _arrow(projected: Schema) -> pa.Schema:
    """The Arrow schema of the projected fields (no field-ID metadata)."""
    import pyarrow as pa
    from pyiceberg.io.pyarrow import schema_to_pyarrow

    arrow = schema_to_pyarrow(projected, include_field_ids=False)
    return pa.schema([field.remove_metadata() for field in arrow])


def _with_system_fields(schema: pa.Schema, *, commit_times: bool) -> pa.Schema:
    import pyarrow as pa

    schema = schema.append(pa.field(ORDER_COLUMN, pa.int64()))
    if commit_times:
        schema = schema.append(pa.field(COMMIT_COLUMN, pa.timestamp("us", tz="UTC")))
    return schema


class _Commits:
    """Commit times of the snapshots that added data files (known-at mode)."""

    def __init__(self, table: Table, name: str, ingested: str | None) -> None:
        self.table, self.name, self.ingested = table, name, ingested
        self.millis = {s.snapshot_id: int(s.timestamp_ms) for s in table.metadata.snapshots}

    def column(self, batch: pa.RecordBatch, info: FileInfo) -> pa.Array:
        """The commit time of ``info``'s file for each row of ``batch``."""
        import numpy as np
        import pyarrow as pa

        utc = pa.timestamp("us", tz="UTC")
        n = batch.num_rows
        millis = self.millis.get(info.added_snapshot_id) if info.added_snapshot_id else None
        if millis is not None:
            return pa.array(np.full(n, millis * 1000, dtype=np.int64)).cast(utc)
        if self.ingested in batch.schema.names and batch.column(self.ingested).null_count == 0:
            return pa.nulls(n, utc)  # every row has _ingested_at: the commit time is unused
        kind = "snapshot"
        raise SnapshotNotFoundError(
            kind,
            str(info.added_snapshot_id),
            scope=f"table {self.name!r}",
            hint=(
                f"Known-at mode needs the commit time of the snapshot that added data file "
                f"{info.path!r} to {self.name!r}, for its rows without {INGESTED_AT!r}, but "
                "that snapshot was expired. Use point_in_time='event', or rewrite those rows "
                f"with {INGESTED_AT!r} set."
            ),
        )


def _ordered_batches(
    reader: Any,
    tasks: list[FileScanTask],
    target: pa.Schema,
    *,
    threads: int,
    name: str,
) -> Iterator[tuple[FileScanTask, pa.RecordBatch]]:
    """Read files in parallel (bounded read-ahead) and yield their batches in task order."""

    def read(task: FileScanTask) -> list[pa.RecordBatch]:
        with translate_errors(f"reading {task.file.file_path!r} of {name!r}"):
            return list(reader.to_record_batches([task]))

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        pending: deque[tuple[FileScanTask, Future[list[pa.RecordBatch]]]] = deque()
        queue = iter(tasks)
        for task in queue:
            pending.append((task, pool.submit(read, task)))
            if len(pending) >= threads + _READ_AHEAD:
                break
        while pending:
            task, future = pending.popleft()
            nxt = next(queue, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(read, nxt)))
            for batch in future.result():
                yield task, batch


def _annotated(
    batches: Iterator[tuple[FileScanTask, pa.RecordBatch]],
    files: dict[str, FileInfo],
    target: pa.Schema,
    commits: _Commits | None,
    stats: ScanStats,
) -> Iterator[pa.RecordBatch]:
    """Conform each batch to ``target`` and add the commit-order (and commit-time) columns."""
    import numpy as np
    import pyarrow as pa

    n_data = len(target) - (2 if commits is not None else 1)
    order = 0
    for task, batch in batches:
        n = batch.num_rows
        names = batch.schema.names
        columns = [
            batch.column(f.name) if f.name in names else pa.nulls(n, f.type)
            for f in list(target)[:n_data]
        ]
        columns.append(pa.array(np.arange(order, order + n, dtype=np.int64)))
        if commits is not None:
            columns.append(commits.column(batch, files[task.file.file_path]))
        order += n
        stats.rows_read = (stats.rows_read or 0) + n
        yield pa.RecordBatch.from_arrays(columns, names=target.names).cast(target)
