"""Snapshot resolution and pruned, streamed PyIceberg scans of feature tables.

A scan reads one table at one snapshot, only the needed columns, only the rows that pass a
PyIceberg row filter (time range, and keys when the entity set is small), as Arrow record
batches. Files are read in commit order (data sequence number, then path) and every row gets:

* ``__fs_order`` (int64): a running position in that order, so "the row committed last"
  is the row with the greatest value (deterministic tie-break);
* ``__fs_commit`` (timestamp UTC): commit time of the snapshot that added the row's data file
  (known-at mode for rows without ``_ingested_at``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from featurestore.catalog import translate_errors
from featurestore.errors import SnapshotNotFoundError
from featurestore.retrieval.request import EMPTY_SNAPSHOT, AsOfValue

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import FileScanTask, Table

__all__ = ["ORDER_COLUMN", "COMMIT_COLUMN", "FileInfo", "resolve_snapshot", "row_filter", "scan"]

ORDER_COLUMN = "__fs_order"
COMMIT_COLUMN = "__fs_commit"
_READ_AHEAD = 4


def resolve_snapshot(table: Table, name: str, as_of: AsOfValue) -> int | None:
    """Return the snapshot ID to read ``table`` at, or ``None`` for "empty".

    Args:
        table: The loaded table.
        name: Its name, for messages.
        as_of: ``None`` (current), a datetime (current at that time; naive is UTC),
            a snapshot ID, :data:`EMPTY_SNAPSHOT`, or a tag/branch name.

    Raises:
        SnapshotNotFoundError: Unknown ID/ref, a time before the table existed, or a time
            whose snapshot was expired; the message gives the valid range.

    Example:
        >>> resolve_snapshot.__name__
        'resolve_snapshot'
    """
    if as_of is None:
        current = table.current_snapshot()
        return None if current is None else int(current.snapshot_id)
    if isinstance(as_of, datetime):
        return _snapshot_at(table, name, as_of)
    if isinstance(as_of, int):
        if as_of == EMPTY_SNAPSHOT:
            return None
        if table.snapshot_by_id(as_of) is None:
            raise _not_found(table, name, f"snapshot {as_of}", "expired or never existed")
        return as_of
    snapshot = table.snapshot_by_name(as_of)
    if snapshot is None:
        refs = sorted(table.metadata.refs)
        kind = f"tag or branch of table {name!r}"
        raise SnapshotNotFoundError(
            kind,
            as_of,
            candidates=refs,
            hint=f"Refs of {name!r}: {refs}." if refs else f"{name!r} has no tags or branches.",
        )
    return int(snapshot.snapshot_id)


def _snapshot_at(table: Table, name: str, when: datetime) -> int | None:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    millis = int(when.timestamp() * 1000)
    snapshot = table.snapshot_as_of_timestamp(millis)
    if snapshot is not None:
        return int(snapshot.snapshot_id)
    created = _created_ms(table)
    history = table.history()
    if millis < created:
        raise _not_found(table, name, f"time {when.isoformat()}", "before the table existed")
    first = table.snapshot_by_id(history[0].snapshot_id) if history else None
    if history and (first is None or first.parent_snapshot_id is not None):
        raise _not_found(table, name, f"time {when.isoformat()}", "its snapshot was expired")
    return None  # the table existed but had no data yet


def _created_ms(table: Table) -> int:
    times = [entry.timestamp_ms for entry in table.metadata.metadata_log]
    times += [entry.timestamp_ms for entry in table.history()]
    return min([*times, table.metadata.last_updated_ms])


def _not_found(table: Table, name: str, what: str, why: str) -> SnapshotNotFoundError:
    history = table.history()
    if history:
        first = datetime.fromtimestamp(history[0].timestamp_ms / 1000, UTC).isoformat()
        last = datetime.fromtimestamp(history[-1].timestamp_ms / 1000, UTC).isoformat()
        ids = [e.snapshot_id for e in history[-5:]]
        valid = f"valid times {first} .. {last}; latest snapshot IDs {ids}"
    else:
        valid = "the table has no snapshots"
    return SnapshotNotFoundError(
        f"snapshot of table {name!r}",
        what,
        hint=f"({why}; {valid}). Pick a snapshot in that range, or None for the current one.",
    )


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
        expr = ex.And(expr, ge(ts_field, _micros(low)))
    if high is not None:
        expr = ex.And(expr, le(ts_field, _micros(high)))
    for column, values in (keys or {}).items():
        expr = ex.And(expr, not_null(column))
        expr = ex.And(expr, is_in(column, values))
    return expr


def _micros(value: datetime) -> int:
    """Microseconds since the epoch: binds to timestamp and timestamptz columns alike."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True)
class FileInfo:
    """Where a data file sits in the commit order."""

    sequence_number: int
    added_snapshot_id: int | None
    commit_ms: int | None


def scan(
    table: Table,
    snapshot_id: int | None,
    columns: Sequence[str],
    expr: BooleanExpression,
    *,
    threads: int,
    name: str,
) -> pa.RecordBatchReader:
    """Stream ``columns`` of ``table`` at ``snapshot_id`` (None: empty) filtered by ``expr``.

    The batches carry :data:`ORDER_COLUMN` and :data:`COMMIT_COLUMN` (see the module doc).

    Raises:
        CatalogError: Reading the manifests or files failed.
    """
    import pyarrow as pa
    from pyiceberg.io.pyarrow import ArrowScan

    with translate_errors(f"planning the scan of {name!r}"):
        readable = _columns_at(table, snapshot_id)
        data_scan = table.scan(
            row_filter=expr,
            selected_fields=tuple(c for c in columns if c in readable),
            snapshot_id=snapshot_id,
        )
        projected = data_scan.projection()
        target = _with_system_fields(_target_schema(table, projected, columns))
        if snapshot_id is None:
            return pa.RecordBatchReader.from_batches(target, iter(()))
        tasks = list(data_scan.plan_files())
        files = _file_infos(table, snapshot_id) if tasks else {}
    tasks.sort(key=lambda t: (files[t.file.file_path].sequence_number, t.file.file_path))
    reader = ArrowScan(table.metadata, table.io, projected, expr, case_sensitive=True)
    batches = _ordered_batches(reader, tasks, files, target, threads=threads, name=name)
    return pa.RecordBatchReader.from_batches(target, batches)


def _columns_at(table: Table, snapshot_id: int | None) -> set[str]:
    """Column names of the schema ``snapshot_id`` was written with.

    Columns added to the table later read as NULL at that snapshot, as Iceberg specifies.
    """
    snapshot = None if snapshot_id is None else table.snapshot_by_id(snapshot_id)
    if snapshot is None or snapshot.schema_id is None:
        return set(table.schema().column_names)
    schema = table.schemas().get(snapshot.schema_id, table.schema())
    return set(schema.column_names)


def _target_schema(table: Table, projected: Any, columns: Sequence[str]) -> pa.Schema:
    """Arrow schema of ``columns``: the snapshot's types, or the current ones for added columns."""
    import pyarrow as pa
    from pyiceberg.io.pyarrow import schema_to_pyarrow

    at_snapshot = schema_to_pyarrow(projected, include_field_ids=False)
    current = schema_to_pyarrow(table.schema(), include_field_ids=False)
    fields = [
        (at_snapshot if c in at_snapshot.names else current).field(c).remove_metadata()
        for c in columns
    ]
    return pa.schema(fields)


def _with_system_fields(schema: pa.Schema) -> pa.Schema:
    import pyarrow as pa

    return schema.append(pa.field(ORDER_COLUMN, pa.int64())).append(
        pa.field(COMMIT_COLUMN, pa.timestamp("us", tz="UTC"))
    )


def _file_infos(table: Table, snapshot_id: int) -> dict[str, FileInfo]:
    from pyiceberg.manifest import ManifestContent

    snapshot = table.snapshot_by_id(snapshot_id)
    if snapshot is None:  # resolved just before; only a concurrent expiry gets here
        raise _not_found(table, table.name()[-1], f"snapshot {snapshot_id}", "expired")
    infos: dict[str, FileInfo] = {}
    for manifest in snapshot.manifests(table.io):
        if manifest.content != ManifestContent.DATA:
            continue
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            added = table.snapshot_by_id(entry.snapshot_id) if entry.snapshot_id else None
            infos[entry.data_file.file_path] = FileInfo(
                sequence_number=int(entry.sequence_number or 0),
                added_snapshot_id=entry.snapshot_id,
                commit_ms=None if added is None else int(added.timestamp_ms),
            )
    return infos


def _ordered_batches(
    reader: Any,
    tasks: list[FileScanTask],
    files: dict[str, FileInfo],
    target: pa.Schema,
    *,
    threads: int,
    name: str,
) -> Iterator[pa.RecordBatch]:
    """Read files in parallel (bounded read-ahead) and yield their batches in task order."""

    def read(task: FileScanTask) -> list[pa.RecordBatch]:
        with translate_errors(f"reading {task.file.file_path!r} of {name!r}"):
            return list(reader.to_record_batches([task]))

    order = 0
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
            info = files[task.file.file_path]
            for batch in future.result():
                yield _annotate(batch, target, order, info.commit_ms)
                order += batch.num_rows


def _annotate(
    batch: pa.RecordBatch, target: pa.Schema, start: int, commit_ms: int | None
) -> pa.RecordBatch:
    import numpy as np
    import pyarrow as pa

    n = batch.num_rows
    order = pa.array(np.arange(start, start + n, dtype=np.int64))
    utc = pa.timestamp("us", tz="UTC")
    if commit_ms is None:
        commit = pa.nulls(n, utc)
    else:
        commit = pa.array(np.full(n, commit_ms * 1000, dtype=np.int64)).cast(utc)
    data = [
        batch.column(f.name) if f.name in batch.schema.names else pa.nulls(n, f.type)
        for f in list(target)[:-2]
    ]
    columns = [*data, order, commit]
    return pa.RecordBatch.from_arrays(columns, names=target.names).cast(target)
