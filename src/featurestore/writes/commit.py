"""One write = one Iceberg snapshot: data files written in bounded chunks, one atomic commit.

PyIceberg's ``Transaction.delete`` + ``append`` would commit atomically but leave two
snapshots (a "range is empty" state nobody ever saw, which time travel by timestamp can pick).
Here a single snapshot producer (``fast_append`` for appends, ``overwrite`` otherwise) receives
every new data file, the files to drop and the rewritten survivors of partly matching files,
and the transaction commits it once. PyIceberg retries the commit on a concurrent update; an
append never conflicts, an overwrite conflicts (``CommitConflictError``) when a concurrent
commit added or removed data its delete filter covers. Data files of a failed write are removed.
The snapshot summary claims the added rows unique on the sort columns when they are
(:mod:`featurestore.writes.uniqueness`).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from featurestore.catalog import translate_errors
from featurestore.errors import CatalogError, CommitConflictError
from featurestore.writes.uniqueness import UNIQUE_ON, Uniqueness

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import Table, Transaction

__all__ = ["CommitOutcome", "Deletion", "commit_write"]


@dataclass(frozen=True)
class Deletion:
    """Which existing rows a write replaces.

    Attributes:
        row_filter: A coarse Iceberg filter: every replaced row matches it (file pruning and
            the scope of conflict detection).
        columns: The columns ``matches`` needs.
        matches: Returns a boolean mask over a table of ``columns``: True = replace the row.
    """

    row_filter: BooleanExpression
    columns: list[str]
    matches: Callable[[pa.Table], Any]


@dataclass(frozen=True)
class CommitOutcome:
    """The snapshot a write created (``None``: nothing to commit) and its row counts."""

    snapshot_id: int | None
    rows_written: int
    rows_deleted: int


class _DataFiles:
    """Writes Arrow chunks as data files of one snapshot producer; removes them on failure."""

    def __init__(self, table: Table, txn: Transaction, producer: Any) -> None:
        self._table = table
        self._txn = txn
        self._producer = producer
        self._counter = itertools.count(0)
        self.paths: list[str] = []

    def write(self, data: pa.Table) -> None:
        from pyiceberg.io.pyarrow import _dataframe_to_data_files

        if data.num_rows == 0:
            return
        for data_file in _dataframe_to_data_files(
            table_metadata=self._txn.table_metadata,
            df=data,
            io=self._table.io,
            write_uuid=self._producer.commit_uuid,
            counter=self._counter,
        ):
            self.paths.append(data_file.file_path)
            self._producer.append_data_file(data_file)

    def remove(self) -> None:
        for path in self.paths:
            with contextlib.suppress(Exception):  # best effort: orphans are harmless
                self._table.io.delete(path)
        self.paths.clear()


def commit_write(
    table: Table,
    chunks: Iterable[pa.Table],
    *,
    deletion: Deletion | None,
    properties: dict[str, str],
    sort_by: list[str],
    progress: Callable[[int], None] | None = None,
) -> CommitOutcome:
    """Write ``chunks`` (already validated) and apply ``deletion`` in ONE snapshot.

    Args:
        table: The feature table.
        chunks: Validated Arrow tables in the table's schema; consumed once.
        deletion: Existing rows to replace, or None for a plain append.
        properties: Snapshot summary properties.
        sort_by: Columns each chunk is sorted by before it is written.
        progress: Called with the number of rows written so far, after each chunk.

    Returns:
        The new snapshot ID (None when there was nothing to commit) and the row counts.

    Raises:
        CommitConflictError: A concurrent commit conflicts with this one; nothing landed.
        CatalogError: The catalog failed.
    """
    txn = table.transaction()
    summary = dict(properties)  # the producer keeps this dict: UNIQUE_ON is added before commit
    update = txn.update_snapshot(snapshot_properties=summary)
    producer = update.overwrite() if deletion is not None else update.fast_append()
    files = _DataFiles(table, txn, producer)
    unique = Uniqueness(sort_by)
    committing = False
    try:
        deleted = _apply_deletion(table, producer, files, deletion) if deletion else 0
        if files.paths:  # survivors of partly replaced files: rows nobody checked here
            unique.spoil()
        written = 0
        for chunk in chunks:
            ordered = chunk.sort_by([(c, "ascending") for c in sort_by])
            unique.add(ordered)
            files.write(ordered)
            written += chunk.num_rows
            if progress is not None:
                progress(written)
        if not files.paths and not deleted:
            return CommitOutcome(None, written, 0)
        if unique.holds():
            schema = table.schema()
            summary[UNIQUE_ON] = ",".join(str(schema.find_field(c).field_id) for c in sort_by)
        producer.commit()
        committing = True
        _commit(txn, table)
    except BaseException as exc:
        if not committing or _did_not_land(exc):
            files.remove()
        raise
    return CommitOutcome(producer.snapshot_id, written, deleted)


def _commit(txn: Transaction, table: Table) -> None:
    """Commit ``txn``; a concurrent change to replaced rows is a ``CommitConflictError``.

    :func:`featurestore.catalog.translate_errors` turns PyIceberg's ``ValidationException``
    (a concurrent commit added or removed data the delete filter covers) and its exhausted
    ``CommitFailedException`` retries into :class:`CommitConflictError`.
    """
    with translate_errors(f"committing to {'.'.join(table.name())!r}"):
        txn.commit_transaction()


def _did_not_land(exc: BaseException) -> bool:
    """Whether a failed commit certainly did not land (its files may be deleted)."""
    from pyiceberg.exceptions import CommitFailedException, ValidationException

    cause = exc.__cause__ if isinstance(exc, CatalogError) else exc
    return isinstance(exc, CommitConflictError) or isinstance(
        cause, CommitFailedException | ValidationException
    )


def _apply_deletion(table: Table, producer: Any, files: _DataFiles, deletion: Deletion) -> int:
    """Drop or rewrite every data file holding replaced rows; return the rows replaced."""
    import pyarrow.compute as pc
    from pyiceberg.expressions import AlwaysTrue
    from pyiceberg.io.pyarrow import ArrowScan

    schema = table.schema()
    deleted = 0
    with translate_errors(f"planning the files of {'.'.join(table.name())!r}"):
        tasks = list(table.scan(row_filter=deletion.row_filter).plan_files())
    for task in tasks:
        if task.delete_files:
            msg = (
                f"Data file {task.file.file_path!r} has row-level delete files, which featurestore "
                "does not rewrite. Compact the table (rewrite data files) first."
            )
            raise CatalogError(msg)
        probe = ArrowScan(table.metadata, table.io, schema.select(*deletion.columns), AlwaysTrue())
        mask = deletion.matches(probe.to_table(tasks=[task]))
        hits = int(pc.sum(pc.cast(mask, "int64")).as_py() or 0)
        if hits == 0:
            continue
        producer.delete_data_file(task.file)
        deleted += hits
        if hits < task.file.record_count:
            full = ArrowScan(table.metadata, table.io, schema, AlwaysTrue()).to_table(tasks=[task])
            files.write(full.filter(pc.invert(mask)))
    producer.delete_by_predicate(deletion.row_filter)
    return deleted
