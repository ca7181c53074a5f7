"""The result of a point-in-time retrieval: data plus exactly what produced it.

A :class:`TrainingSet` holds the joined rows (one per entity row, in input order) and the
snapshot of every feature table it read, so it can be logged with a model and rebuilt later:
``get_historical_features(store, entity_table, ts.feature_refs, as_of=ts.as_of_mapping(), ...)``
gives a table with the same :meth:`TrainingSet.content_hash`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from featurestore.catalog import ensure_namespace, translate_errors
from featurestore.errors import AlreadyExistsError
from featurestore.retrieval.request import EMPTY_SNAPSHOT

if TYPE_CHECKING:
    import pyarrow as pa

    from featurestore.lineage.models import ModelRun
    from featurestore.store import FeatureStore

__all__ = ["TrainingSet", "ViewSnapshot", "content_hash"]


@dataclass(frozen=True)
class ViewSnapshot:
    """One joined view (alias) and the table snapshot it was read at.

    Attributes:
        alias: The join name (the view name when no alias was given).
        view: The feature view name.
        table: The Iceberg table.
        snapshot_id: The snapshot read; ``None`` when the table had no snapshot (read as
            empty; reproduce with :data:`~featurestore.retrieval.request.EMPTY_SNAPSHOT`).
        schema_id: The table schema the read resolved column names in (rebuilds use it).
        feature_names: The features taken from it.
    """

    alias: str
    view: str
    table: str
    snapshot_id: int | None
    schema_id: int | None
    feature_names: tuple[str, ...]


class TrainingSet:
    """Point-in-time correct training rows and their provenance.

    Attributes:
        store: The store it was read from.
        views: One entry per joined view/alias, in request order.
        feature_refs: Resolved references (``view:*`` expanded, aliases as written).
        entity_columns: Every entity column, in input order.
        timestamp_column: The entity timestamp column.
        join_keys: Alias -> the entity columns it was joined on.
        full_feature_names: Whether outputs are named ``alias__feature``.
        point_in_time: ``"event"`` or ``"known"``.
        registry_snapshot_id: The registry snapshot the definitions came from.
        scan_stats: Alias -> what its scan planned and read: ``files_in_range`` (files the
            row filter kept: time range, and keys when few), ``files_planned`` (of those,
            files whose key bounds can hold an entity key), ``rows_planned`` (their record
            count) and ``rows_read`` (None when DuckDB read the files itself).
    """

    def __init__(
        self,
        *,
        store: FeatureStore,
        table: pa.Table,
        views: tuple[ViewSnapshot, ...],
        feature_refs: tuple[str, ...],
        entity_columns: tuple[str, ...],
        timestamp_column: str,
        join_keys: dict[str, tuple[str, ...]],
        full_feature_names: bool,
        point_in_time: str,
        registry_snapshot_id: int | None,
        scan_stats: dict[str, dict[str, int | None]] | None = None,
    ) -> None:
        self.store = store
        self._table = table
        self.views = views
        self.feature_refs = feature_refs
        self.entity_columns = entity_columns
        self.timestamp_column = timestamp_column
        self.join_keys = join_keys
        self.full_feature_names = full_feature_names
        self.point_in_time = point_in_time
        self.registry_snapshot_id = registry_snapshot_id
        self.scan_stats = scan_stats or {}

    def __repr__(self) -> str:
        return (
            f"TrainingSet(rows={self.num_rows}, features={list(self.feature_refs)}, "
            f"snapshots={self.snapshot_ids})"
        )

    @property
    def num_rows(self) -> int:
        """Number of rows (= number of entity rows)."""
        return int(self._table.num_rows)

    @property
    def snapshot_ids(self) -> dict[str, int | None]:
        """Table name -> the snapshot read (``None``: the table was empty)."""
        return {v.table: v.snapshot_id for v in self.views}

    def as_of_mapping(self) -> dict[str, int]:
        """Alias -> snapshot ID, the ``as_of`` that reads exactly the same snapshots."""
        return {
            v.alias: EMPTY_SNAPSHOT if v.snapshot_id is None else v.snapshot_id for v in self.views
        }

    def to_arrow(self) -> pa.Table:
        """The rows as a pyarrow Table: entity columns, then feature columns."""
        return self._table

    def to_pandas(self) -> Any:
        """The rows as a pandas DataFrame (nullable ints become pandas nullable dtypes)."""
        import pandas as pd

        return self._table.to_pandas(types_mapper=_pandas_types(pd))

    def to_polars(self) -> Any:
        """The rows as a polars DataFrame (needs ``pip install 'featurestore[polars]'``)."""
        try:
            import polars as pl
        except ImportError:
            from featurestore.errors import ConfigError

            msg = "to_polars() needs polars: pip install 'featurestore[polars]'."
            raise ConfigError(msg) from None
        return pl.from_arrow(self._table)

    def entity_frame(self) -> pa.Table:
        """The entity rows exactly as used (entity columns only, timestamps in UTC)."""
        return self._table.select(list(self.entity_columns))

    def content_hash(self) -> str:
        """``"sha256:<hex>"`` of names, types and values; see :func:`content_hash`."""
        return content_hash(self._table)

    def save(self, table_name: str) -> int:
        """Write the rows as a new Iceberg table and return its snapshot ID.

        Raises:
            AlreadyExistsError: The table exists; choose another name.
            CatalogError: The catalog refused; nothing was created.
        """
        return save_table(self.store, table_name, self._table)

    def log_model_run(self, model: str, version: str | int, **kwargs: Any) -> ModelRun:
        """Record that this training set trained ``model`` ``version`` (see the store)."""
        return self.store.log_model_run(model, version, self, **kwargs)


def _pandas_types(pd: Any) -> Any:
    import pyarrow as pa

    mapping = {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }
    return mapping.get


def save_table(store: FeatureStore, table_name: str, data: pa.Table) -> int:
    """Create ``table_name`` holding ``data`` in one commit; return the snapshot ID.

    Raises:
        AlreadyExistsError: The table exists.
    """
    from pyiceberg.exceptions import TableAlreadyExistsError

    from featurestore._internal.identifiers import split_table_name

    namespace, _ = split_table_name(table_name)
    ensure_namespace(store.catalog, namespace)
    msg = f"Table {table_name!r} already exists; save the training set under another name."
    with translate_errors(f"checking for table {table_name!r}"):
        if store.catalog.table_exists(table_name):
            raise AlreadyExistsError(msg)
    try:
        with translate_errors(f"creating table {table_name!r}"):
            txn = store.catalog.create_table_transaction(table_name, schema=data.schema)
            txn.append(data)
            table = txn.commit_transaction()
    except TableAlreadyExistsError:  # created concurrently since the check
        raise AlreadyExistsError(msg) from None
    snapshot = table.current_snapshot()
    if snapshot is None:  # an empty training set still commits a snapshot, but be explicit
        with translate_errors(f"committing to {table_name!r}"):
            table.append(data)
        snapshot = table.refresh().current_snapshot()
    assert snapshot is not None
    return int(snapshot.snapshot_id)


def content_hash(table: pa.Table) -> str:
    """Hash a table by column names, types and values; not chunking or schema metadata.

    Stable across processes and runs: values are hashed as little-endian fixed-width numbers
    (nulls hashed through a validity mask, their slots zeroed), strings by lengths and bytes,
    other types through their JSON text.

    Example:
        >>> import pyarrow as pa
        >>> a = pa.table({"x": [1, None, 3]})
        >>> b = pa.concat_tables([a.slice(0, 1), a.slice(1)])
        >>> content_hash(a) == content_hash(b)
        True
    """
    digest = hashlib.sha256()
    digest.update(f"rows={table.num_rows};".encode())
    for field, column in zip(table.schema, table.columns, strict=True):
        digest.update(f"col={field.name!r}:{field.type};".encode())
        _hash_array(digest, column.combine_chunks())
    return f"sha256:{digest.hexdigest()}"


def _hash_array(digest: Any, array: pa.Array) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.types as pat

    valid = array.is_valid().to_numpy(zero_copy_only=False).astype(np.uint8)
    digest.update(valid.tobytes())
    kind = array.type
    if pat.is_timestamp(kind) or pat.is_date64(kind) or pat.is_duration(kind):
        array = array.cast(pa.int64())
    elif pat.is_date32(kind) or pat.is_time32(kind):
        array = array.cast(pa.int32())
    elif pat.is_time64(kind):
        array = array.cast(pa.int64())
    kind = array.type
    if pat.is_integer(kind) or pat.is_floating(kind) or pat.is_boolean(kind):
        zero = False if pat.is_boolean(kind) else 0
        values = pc.fill_null(array, zero).to_numpy(zero_copy_only=False)
        digest.update(values.astype(values.dtype.newbyteorder("<")).tobytes())
    elif pat.is_string(kind) or pat.is_large_string(kind) or pat.is_string_view(kind):
        _hash_binary(digest, pc.fill_null(array.cast(pa.large_string()), ""))
    elif pat.is_binary(kind) or pat.is_large_binary(kind):
        _hash_binary(digest, pc.fill_null(array.cast(pa.large_binary()), b""))
    else:
        text = json.dumps(array.to_pylist(), default=str, sort_keys=True)
        digest.update(text.encode())


def _hash_binary(digest: Any, array: pa.Array) -> None:
    import numpy as np
    import pyarrow.compute as pc

    lengths = pc.binary_length(array).to_numpy(zero_copy_only=False).astype("<i8")
    digest.update(lengths.tobytes())
    start = array.offset
    offsets = np.frombuffer(array.buffers()[1], dtype="<i8")[start : start + len(array) + 1]
    if len(offsets):
        data = array.buffers()[2]
        if data is not None:
            digest.update(memoryview(data)[int(offsets[0]) : int(offsets[-1])])
