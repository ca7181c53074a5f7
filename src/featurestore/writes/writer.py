"""The :class:`FeatureWriter`: validated, atomic writes of feature data to a view's table.

Modes:

- ``append``: add the rows.
- ``upsert``: rows with the same join keys and timestamp as an input row are replaced. Two
  input rows with the same join keys and timestamp are an error (which one should win is not
  knowable from the data): deduplicate first. The input is held in memory.
- ``replace_range``: every row with a timestamp in ``[start, end)`` is replaced by the input,
  whose rows must all lie in that range. Re-running the same job gives the same table.

Every write is one snapshot, committed atomically (see :mod:`featurestore.writes.commit`);
inputs are validated and written in chunks of at most :data:`CHUNK_ROWS` rows, so a
RecordBatchReader larger than memory can be appended or replace a range. The first chunk (an
empty input: its columns) is validated before the table is created or evolved, so a write
that fails validation leaves the catalog as it was; a later bad chunk commits nothing (a
table created by this write stays, empty). A write stamps
``_ingested_at`` with one value, taken when the write starts (before its commit), and records
it in the snapshot summary (``featurestore.ingested-at``) next to ``featurestore.writer``,
``featurestore.view``, ``featurestore.mode`` and, for computed features,
``featurestore.source-snapshots``; ``featurestore.unique-on`` when the written rows were
found unique on (keys, timestamp) (see :mod:`featurestore.writes.uniqueness`).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from featurestore._internal.arrow import to_arrow_reader
from featurestore._internal.timeutil import as_utc
from featurestore._version import __version__
from featurestore.catalog import load_table_or_none
from featurestore.errors import DataValidationError, DefinitionError
from featurestore.registry.models import Entity, FeatureView, view_join_keys
from featurestore.writes.commit import Deletion, commit_write
from featurestore.writes.keys import input_key_dtypes, no_key_types
from featurestore.writes.tables import (
    check_store_table,
    create_feature_table,
    evolve_feature_table,
    evolved_arrow_schema,
    feature_table_schema,
)
from featurestore.writes.validate import WriteSpec, prepare

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.table import Table

    from featurestore.store import FeatureStore

__all__ = ["CHUNK_ROWS", "FeatureWriter", "WriteMode", "WriteResult"]

WriteMode = Literal["append", "upsert", "replace_range"]
CHUNK_ROWS = 1_000_000
"""Rows validated and written per chunk of a large input (bounded memory)."""
_KEY_FILTER_LIMIT = 10_000


@dataclass(frozen=True)
class WriteResult:
    """What a write did.

    Attributes:
        table: The Iceberg table written.
        snapshot_id: The snapshot this write created; None when there was nothing to commit.
        mode: The write mode.
        rows_written: Rows added.
        rows_deleted: Rows replaced (None for ``append``).
        view: The feature view.
        ingested_at: The ``_ingested_at`` value stamped on every row of this write.
    """

    table: str
    snapshot_id: int | None
    mode: WriteMode
    rows_written: int
    rows_deleted: int | None
    view: str = ""
    ingested_at: datetime | None = None


class FeatureWriter:
    """Writes feature data to the tables of feature views.

    Example:
        >>> import featurestore, tempfile, pandas as pd
        >>> from featurestore import Entity, Feature, FeatureView
        >>> from featurestore.writes.writer import FeatureWriter
        >>> store = featurestore.connect(home=tempfile.mkdtemp())
        >>> user = Entity(name="user", join_keys=["user_id"], key_dtypes={"user_id": "int64"})
        >>> view = FeatureView(name="spend", entities=["user"], table="features.spend",
        ...                    features=[Feature(name="total", dtype="float64")])
        >>> df = pd.DataFrame({"user_id": [1], "event_timestamp": [pd.Timestamp("2024-01-01")],
        ...                    "total": [9.5]})
        >>> FeatureWriter(store).write(view, df, entities=[user]).rows_written
        1
    """

    def __init__(self, store: FeatureStore) -> None:
        self._store = store

    def write(
        self,
        view: str | FeatureView,
        data: Any,
        *,
        mode: WriteMode = "append",
        start: datetime | None = None,
        end: datetime | None = None,
        source_snapshots: Mapping[str, int] | None = None,
        entities: Sequence[Entity] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> WriteResult:
        """Validate ``data`` and commit it to the view's table in one snapshot.

        Args:
            view: A registered view name, or a FeatureView.
            data: pandas / polars DataFrame, pyarrow Table, RecordBatch or RecordBatchReader.
            mode: ``"append"``, ``"upsert"`` or ``"replace_range"``.
            start: Start of the replaced range, inclusive (``replace_range`` only).
            end: End of the replaced range, exclusive (``replace_range`` only).
            source_snapshots: Table -> snapshot ID read to compute ``data`` (lineage).
            entities: The view's entities, for a view that is not registered (default: looked
                up in the registry).
            progress: Called with the rows written so far after each chunk.

        Returns:
            The table, the new snapshot ID and the row counts.

        Raises:
            DataValidationError: The data does not fit; nothing was written.
            DefinitionError: The table is external, or disagrees with the view.
            CommitConflictError: A concurrent writer won and the retries ran out.
        """
        fview = self._resolve(view)
        window = _check_mode(mode, start, end)
        keys, declared = self._keys(fview, entities)
        reader = to_arrow_reader(data)
        key_dtypes, key_problems = input_key_dtypes(fview, keys, declared, reader.schema)
        ingested_at = datetime.now(UTC)
        existing, target = self._target(fview, keys, key_dtypes, key_problems)
        spec = WriteSpec(fview, keys, target, ingested_at, window)
        sort_by = [*keys, fview.timestamp_field]
        # Validate before the catalog is touched (the table created or new columns added): the
        # whole input of an upsert, else the first chunk (an empty input: its columns).
        stream = iter([(0, _read_all(reader))]) if mode == "upsert" else _chunks(reader)
        first_row, first = next(stream, (0, reader.schema.empty_table()))
        checked = prepare(first, spec, first_row=first_row)
        if mode == "upsert":
            _check_unique(checked, sort_by, fview)
        table = self._ensure(fview, keys, key_dtypes, existing)
        target = table.schema().as_arrow()
        if not target.equals(spec.target, check_metadata=False):  # a concurrent writer's table
            spec = replace(spec, target=target)
            checked = prepare(first, spec, first_row=first_row)
        properties = _summary(fview, mode, ingested_at, source_snapshots)
        if mode == "upsert":
            deletion: Deletion | None = _upsert_deletion(checked, sort_by) if len(checked) else None
        else:
            deletion = _range_deletion(fview.timestamp_field, window) if window else None
        rest = (prepare(chunk, spec, first_row=row) for row, chunk in stream)
        chunks = itertools.chain([checked], rest)
        outcome = commit_write(
            table,
            chunks,
            deletion=deletion,
            properties=properties,
            sort_by=sort_by,
            progress=progress,
        )
        return WriteResult(
            table=fview.table,
            snapshot_id=outcome.snapshot_id,
            mode=mode,
            rows_written=outcome.rows_written,
            rows_deleted=None if mode == "append" else outcome.rows_deleted,
            view=fview.name,
            ingested_at=ingested_at,
        )

    def ensure_table(self, view: FeatureView, *, entities: Sequence[Entity] | None = None) -> Table:
        """Return the view's table: created if missing (race-safe), new features added.

        Args:
            view: The feature view.
            entities: Its entities, for a view that is not registered.

        Raises:
            DefinitionError: The table is external or belongs to another view; or it does not
                exist and a join key has no dtype (set ``Entity.key_dtypes``, or write data).

        Example:
            >>> import featurestore, tempfile
            >>> from featurestore import Entity, Feature, FeatureView
            >>> store = featurestore.connect(home=tempfile.mkdtemp())
            >>> user = Entity(name="user", key_dtypes={"user": "string"})
            >>> view = FeatureView(name="v", entities=["user"], table="features.v",
            ...                    features=[Feature(name="x", dtype="int64")])
            >>> table = FeatureWriter(store).ensure_table(view, entities=[user])
            >>> [str(f.transform) for f in table.spec().fields]
            ['day']
        """
        keys, key_dtypes = self._keys(view, entities)
        missing = [k for k in keys if k not in key_dtypes]
        if missing and not self._store.catalog.table_exists(view.table):
            msg = (
                f"Join keys {missing} of view {view.name!r} have no dtype and table "
                f"{view.table!r} does not exist yet: set Entity.key_dtypes, or write data "
                "(the first write takes the key types from the data)."
            )
            raise DefinitionError(msg)
        return self._ensure(view, keys, key_dtypes)

    # -- helpers -----------------------------------------------------------------------

    def _resolve(self, view: str | FeatureView) -> FeatureView:
        if isinstance(view, FeatureView):
            return view
        if isinstance(view, str):
            return self._store.get_feature_view(view)
        msg = f"Expected a feature view name or FeatureView, got {type(view).__name__!r}."
        raise DefinitionError(msg)

    def _keys(
        self, view: FeatureView, entities: Sequence[Entity] | None
    ) -> tuple[list[str], dict[str, str]]:
        if entities is None:
            by_name = {name: self._store.get_entity(name) for name in view.entities}
        else:
            by_name = {e.name: e for e in entities}
            unknown = [e for e in view.entities if e not in by_name]
            if unknown:
                msg = f"View {view.name!r} uses entities {unknown}, which were not passed."
                raise DefinitionError(msg)
        keys = view_join_keys(view, by_name)
        dtypes: dict[str, str] = {}
        for name in view.entities:
            dtypes.update({k: v for k, v in by_name[name].key_dtypes.items() if k not in dtypes})
        return keys, dtypes

    def _target(
        self,
        view: FeatureView,
        keys: list[str],
        key_dtypes: dict[str, str],
        key_problems: dict[str, str],
    ) -> tuple[Table | None, pa.Schema]:
        """The view's table, checked (None: not created yet), and the Arrow schema it will have.

        Reads the catalog only. ``key_problems``: why the input gives no type for a key (an
        error only when the table is still to be created).
        """
        table = load_table_or_none(self._store.catalog, view.table)
        if table is not None:
            _check_table(table, view, keys)
            return table, evolved_arrow_schema(table, view)
        if key_problems:
            raise no_key_types(view, key_problems)
        return None, feature_table_schema(view, keys, key_dtypes).as_arrow()

    def _ensure(
        self,
        view: FeatureView,
        keys: list[str],
        key_dtypes: dict[str, str],
        table: Table | None = None,
    ) -> Table:
        """The view's table (``table``, already checked, or looked up): created, else evolved."""
        catalog = self._store.catalog
        if table is None and (table := load_table_or_none(catalog, view.table)) is not None:
            _check_table(table, view, keys)
        if table is None:
            schema = feature_table_schema(view, keys, key_dtypes)
            granularity = view.partition_granularity or self._store.config.partition_granularity
            compression = self._store.config.parquet_compression
            return create_feature_table(
                catalog, view, schema, granularity=granularity, compression=compression
            )
        return evolve_feature_table(table, view)


def _check_mode(
    mode: str, start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime] | None:
    modes = get_args(WriteMode)
    if mode not in modes:
        msg = f"Unknown write mode {mode!r}. Valid modes: {', '.join(modes)}."
        raise DataValidationError(msg)
    if mode != "replace_range":
        if start is not None or end is not None:
            msg = f"start/end are only for mode='replace_range', not mode={mode!r}."
            raise DataValidationError(msg)
        return None
    if start is None or end is None:
        msg = "mode='replace_range' needs both start and end (the range [start, end) replaced)."
        raise DataValidationError(msg)
    start, end = _utc(start, "start"), _utc(end, "end")
    if start >= end:
        msg = f"Empty range: start {start.isoformat()!r} must be before end {end.isoformat()!r}."
        raise DataValidationError(msg)
    return start, end


def _utc(value: datetime, name: str) -> datetime:
    """Naive datetimes are UTC; aware ones are converted."""
    if not isinstance(value, datetime):
        msg = f"Expected a datetime for {name}, got {value!r}."
        raise DataValidationError(msg)
    if getattr(value, "nanosecond", 0):  # a pandas Timestamp below the microsecond
        msg = (
            f"{name} {value} has nanoseconds; feature timestamps are stored in microseconds. "
            "Round it (e.g. .floor('us'))."
        )
        raise DataValidationError(msg)
    return as_utc(value)


def _check_table(table: Table, view: FeatureView, keys: list[str]) -> None:
    """The store made ``table`` for ``view``, and it has the view's join key columns."""
    check_store_table(table, view)
    names = {f.name for f in table.schema().fields}
    missing = [k for k in keys if k not in names]
    if missing:
        msg = (
            f"Table {view.table!r} has no join key columns {missing} (view {view.name!r} keys: "
            f"{keys}). The view's entities changed: write it to a new table."
        )
        raise DefinitionError(msg)


def _summary(
    view: FeatureView, mode: str, ingested_at: datetime, sources: Mapping[str, int] | None
) -> dict[str, str]:
    properties = {
        "featurestore.writer": f"featurestore {__version__}",
        "featurestore.view": view.name,
        "featurestore.mode": mode,
        "featurestore.ingested-at": ingested_at.isoformat(),
    }
    if sources is not None:
        properties["featurestore.source-snapshots"] = json.dumps(
            {str(k): int(v) for k, v in sources.items()}, sort_keys=True
        )
    return properties


def _chunks(reader: pa.RecordBatchReader) -> Iterator[tuple[int, pa.Table]]:
    """Regroup the reader's batches into tables of at most :data:`CHUNK_ROWS` rows.

    Yields:
        The input row number of each chunk's first row, and the chunk.
    """
    import pyarrow as pa

    pending: list[pa.RecordBatch] = []
    size = 0
    first_row = 0
    for batch in _batches(reader):
        while batch.num_rows:
            take = batch.slice(0, CHUNK_ROWS - size)
            pending.append(take)
            size += take.num_rows
            batch = batch.slice(take.num_rows)
            if size == CHUNK_ROWS:
                yield first_row, pa.Table.from_batches(pending, schema=reader.schema)
                pending, size, first_row = [], 0, first_row + size
    if pending:
        yield first_row, pa.Table.from_batches(pending, schema=reader.schema)


def _batches(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    """Yield the reader's batches; a pyarrow error while reading raises DataValidationError.

    A streamed input (e.g. a CSV file) may hit a bad value only past its first block.
    """
    import pyarrow as pa

    batches = iter(reader)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except pa.ArrowException as exc:
            raise _unreadable(exc, reader.schema) from exc
        yield batch


def _read_all(reader: pa.RecordBatchReader) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_batches(list(_batches(reader)), schema=reader.schema)


def _unreadable(exc: Exception, schema: pa.Schema) -> DataValidationError:
    """Name the column of a pyarrow read error when the message gives it (CSV: ``#3``)."""
    detail = " ".join(str(exc).split())
    found = re.search(r"column #(\d+)", detail)
    where = ""
    if found and int(found.group(1)) < len(schema.names):
        where = f" in column {schema.names[int(found.group(1))]!r}"
    msg = (
        f"Cannot read the input data{where}: {detail}. Nothing was written; fix the value "
        "(or the column's type) and write again."
    )
    return DataValidationError(msg)


def _check_unique(data: pa.Table, columns: list[str], view: FeatureView) -> None:
    import pyarrow.compute as pc

    counts = data.group_by(columns).aggregate([([], "count_all")])
    dupes = counts.filter(pc.greater(counts["count_all"], 1))
    if dupes.num_rows:
        shown = dupes.slice(0, 5).drop_columns(["count_all"]).to_pylist()
        msg = (
            f"Upsert into view {view.name!r}: {dupes.num_rows} (join keys, timestamp) pair(s) "
            f"occur more than once in the input, e.g. {shown}. Deduplicate the input (which "
            "row should win is not knowable), or use mode='append'."
        )
        raise DataValidationError(msg)


def _range_deletion(ts: str, window: tuple[datetime, datetime]) -> Deletion:
    import pyarrow.compute as pc
    from pyiceberg import expressions

    ex: Any = expressions  # pydantic-based predicates: their generated signatures mislead mypy
    start, end = window
    row_filter = ex.And(
        ex.GreaterThanOrEqual(ts, start.isoformat()), ex.LessThan(ts, end.isoformat())
    )

    def matches(rows: pa.Table) -> Any:
        column = rows[ts]
        return pc.and_(pc.greater_equal(column, start), pc.less(column, end))

    return Deletion(row_filter, [ts], matches)


def _upsert_deletion(data: pa.Table, columns: list[str]) -> Deletion:
    """Replace existing rows whose (join keys, timestamp) occur in ``data``."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyiceberg import expressions

    ex: Any = expressions  # pydantic-based predicates: their generated signatures mislead mypy

    ts = columns[-1]
    low, high = pc.min_max(data[ts]).as_py().values()
    row_filter: Any = ex.And(
        ex.GreaterThanOrEqual(ts, low.isoformat()), ex.LessThanOrEqual(ts, high.isoformat())
    )
    key_type = data.schema.field(columns[0]).type
    if len(columns) == 2 and (pa.types.is_integer(key_type) or pa.types.is_large_string(key_type)):
        values = pc.unique(data[columns[0]])
        if len(values) <= _KEY_FILTER_LIMIT:
            row_filter = ex.And(row_filter, ex.In(columns[0], set(values.to_pylist())))
    wanted = data.select(columns)

    def matches(rows: pa.Table) -> Any:
        ordinal = "__featurestore_row"
        indexed = rows.append_column(ordinal, pa.array(range(rows.num_rows), pa.int64()))
        hit = indexed.join(wanted, keys=columns, join_type="left semi")[ordinal]
        return pc.is_in(indexed[ordinal], value_set=hit.combine_chunks())

    return Deletion(row_filter, columns, matches)
