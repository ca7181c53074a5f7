"""Feature tables: create one from a :class:`FeatureView`, evolve it, refuse external ones.

A table the store creates has, in this order: the join keys (required), the event timestamp
(``timestamptz``, required), the created timestamp if the view has one, the features
(optional), and the system column ``_ingested_at`` (``timestamptz``). It is partitioned by
``day`` (or ``month``) of the event timestamp and sorted by (join keys, timestamp). Its table
properties record that the store created it (``featurestore.created-by``) and for which view
(``featurestore.view``); a table without them is external and read-only for the store. Its
Parquet codec is the store's ``parquet_compression`` (Snappy unless configured: training-set
reads decode every feature column, and Snappy decodes about twice as fast as Iceberg's default
zstd, for files about 10% larger).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NamedTuple

from featurestore._version import __version__
from featurestore.catalog import ensure_namespace, translate_errors
from featurestore.errors import DefinitionError
from featurestore.registry.dtypes import canonical_dtype
from featurestore.registry.models import INGESTED_AT

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pyarrow as pa
    from pyiceberg.catalog import Catalog
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table
    from pyiceberg.types import IcebergType

    from featurestore.registry.models import FeatureView

__all__ = [
    "CREATED_BY",
    "VIEW_PROPERTY",
    "check_store_table",
    "create_feature_table",
    "evolve_feature_table",
    "ColumnChange",
    "column_changes",
    "evolved_arrow_schema",
    "feature_table_schema",
    "iceberg_type",
]

CREATED_BY = "featurestore.created-by"
"""Table property naming the store version that created a table (absent: external table)."""
VIEW_PROPERTY = "featurestore.view"
"""Table property naming the feature view a table belongs to."""
TIMESTAMP_PROPERTY = "featurestore.timestamp-field"
"""Table property naming the event timestamp column."""
COMPRESSION_PROPERTY = "write.parquet.compression-codec"
"""Iceberg's table property for the Parquet codec of the data files writers add."""

_DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")
_LIST = re.compile(r"^list<(.+)>$")


class _Ids:
    """Hands out Iceberg field IDs in order."""

    def __init__(self) -> None:
        self.next = 0

    def __call__(self) -> int:
        self.next += 1
        return self.next


def iceberg_type(dtype: str, ids: Any = None) -> IcebergType:
    """Return the Iceberg type of a canonical dtype string.

    Args:
        dtype: A dtype such as ``"int64"``, ``"decimal(15,2)"`` or ``"list<float64>"``.
        ids: A callable handing out field IDs for nested fields (list elements).

    Example:
        >>> str(iceberg_type("timestamp"))
        'timestamptz'
    """
    from pyiceberg import types as t

    dtype = canonical_dtype(dtype)
    if match := _LIST.match(dtype):
        next_id = ids or _Ids()
        element_id = next_id()
        return t.ListType(element_id, iceberg_type(match.group(1), next_id), element_required=False)
    if match := _DECIMAL.match(dtype):
        return t.DecimalType(int(match.group(1)), int(match.group(2)))
    simple: dict[str, IcebergType] = {
        "int32": t.IntegerType(),
        "int64": t.LongType(),
        "float32": t.FloatType(),
        "float64": t.DoubleType(),
        "bool": t.BooleanType(),
        "string": t.StringType(),
        "date": t.DateType(),
        "timestamp": t.TimestamptzType(),
    }
    return simple[dtype]


def feature_table_schema(
    view: FeatureView, join_keys: list[str], key_dtypes: Mapping[str, str]
) -> Schema:
    """Build the Iceberg schema of the table that stores ``view``.

    Args:
        view: The feature view.
        join_keys: Its join keys, in order.
        key_dtypes: A dtype for every join key.

    Example:
        >>> from featurestore.registry.models import Feature, FeatureView
        >>> v = FeatureView(name="s", entities=["user"], table="f.s",
        ...                 features=[Feature(name="x", dtype="float64")])
        >>> [f.name for f in feature_table_schema(v, ["user_id"], {"user_id": "int64"}).fields]
        ['user_id', 'event_timestamp', 'x', '_ingested_at']
    """
    from pyiceberg.schema import Schema
    from pyiceberg.types import NestedField

    columns: list[tuple[str, str, bool]] = [(k, key_dtypes[k], True) for k in join_keys]
    columns.append((view.timestamp_field, "timestamp", True))
    if view.created_timestamp_field:
        columns.append((view.created_timestamp_field, "timestamp", False))
    columns += [(f.name, f.dtype, False) for f in view.features]
    columns.append((INGESTED_AT, "timestamp", False))
    ids = _Ids()
    top_ids = [ids() for _ in columns]
    fields = [
        NestedField(field_id, name, iceberg_type(dtype, ids), required=required)
        for field_id, (name, dtype, required) in zip(top_ids, columns, strict=True)
    ]
    return Schema(*fields)


def create_feature_table(
    catalog: Catalog,
    view: FeatureView,
    schema: Schema,
    *,
    granularity: str,
    compression: str = "snappy",
) -> Table:
    """Create the table of ``view``, or load it when a concurrent caller created it first.

    Args:
        catalog: The PyIceberg catalog.
        view: The feature view; ``view.table`` names the table.
        schema: From :func:`feature_table_schema`.
        granularity: ``"day"`` or ``"month"``: the partition transform of the timestamp.
        compression: The Parquet codec (``write.parquet.compression-codec``).

    Returns:
        The table (checked to be the store's and this view's).
    """
    from pyiceberg.exceptions import TableAlreadyExistsError
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.table.sorting import SortField, SortOrder
    from pyiceberg.transforms import DayTransform, IdentityTransform, MonthTransform

    ts_id = schema.find_field(view.timestamp_field).field_id
    transform: Any = MonthTransform() if granularity == "month" else DayTransform()
    spec = PartitionSpec(
        PartitionField(ts_id, 1000, transform, f"{view.timestamp_field}_{granularity}")
    )
    key_ids = [f.field_id for f in schema.fields if f.required and f.field_id != ts_id]
    order = SortOrder(
        *(SortField(source_id=i, transform=IdentityTransform()) for i in [*key_ids, ts_id])
    )
    properties = {
        CREATED_BY: f"featurestore {__version__}",
        VIEW_PROPERTY: view.name,
        TIMESTAMP_PROPERTY: view.timestamp_field,
        COMPRESSION_PROPERTY: compression,
    }
    namespace = view.table.rpartition(".")[0]
    ensure_namespace(catalog, namespace)
    with translate_errors(f"creating table {view.table!r}"):
        try:
            table = catalog.create_table(
                view.table,
                schema=schema,
                partition_spec=spec,
                sort_order=order,
                properties=properties,
            )
        except TableAlreadyExistsError:  # a concurrent writer created it first
            table = catalog.load_table(view.table)
    check_store_table(table, view)
    return table


def check_store_table(table: Table, view: FeatureView) -> None:
    """Raise unless ``table`` was created by the store for ``view``.

    Raises:
        DefinitionError: The table is external (read-only for the store), or belongs to
            another view, or its timestamp column is not the view's.
    """
    properties = table.properties
    if CREATED_BY not in properties:
        msg = (
            f"Table {view.table!r} was not created by featurestore (no {CREATED_BY!r} table "
            "property): external tables are read-only for the store. Point feature view "
            f"{view.name!r} at a new table name and let the store create it."
        )
        raise DefinitionError(msg)
    owner = properties.get(VIEW_PROPERTY)
    if owner not in (None, view.name):
        msg = (
            f"Table {view.table!r} belongs to feature view {owner!r}, not {view.name!r}. "
            "Give each feature view its own table."
        )
        raise DefinitionError(msg)
    if table.schema().find_field(view.timestamp_field, case_sensitive=True) is None:
        msg = f"Table {view.table!r} has no timestamp column {view.timestamp_field!r}."
        raise DefinitionError(msg)


def evolve_feature_table(table: Table, view: FeatureView) -> Table:
    """Add the view's features (and created timestamp) that the table lacks; widen narrower ones.

    A column narrower than its feature's dtype where Iceberg widens in place (``int32`` to
    ``int64``, ``float32`` to ``float64``, a decimal to more precision, and the same for list
    elements) is widened; any other difference is an error. Old snapshots stay readable (new
    columns read as NULL there, widened ones as the wider type).

    Raises:
        DefinitionError: A feature's dtype disagrees with its existing column.
    """
    changes = column_changes(table, view)
    if not changes:
        return table
    with (
        translate_errors(f"evolving the schema of {view.table!r}"),
        table.update_schema() as update,
    ):
        for change in changes:
            if change.path is None:
                update.add_column(change.column, change.column_type, required=False)
            else:
                update.update_column(change.path, field_type=change.path_type)
    return table


class ColumnChange(NamedTuple):
    """One change :func:`evolve_feature_table` makes.

    Attributes:
        column: The top-level column.
        column_type: Its type afterwards.
        path: None: the column is added; else the column (or its list's element) widened.
        path_type: The widened type at ``path``.
    """

    column: str
    column_type: IcebergType
    path: str | None = None
    path_type: IcebergType | None = None


def column_changes(table: Table, view: FeatureView) -> list[ColumnChange]:
    """What :func:`evolve_feature_table` would change, in order; changes nothing.

    Raises:
        DefinitionError: A feature's dtype disagrees with its existing column.
    """
    existing = {f.name: f for f in table.schema().fields}
    wanted: list[tuple[str, str]] = [(f.name, f.dtype) for f in view.features]
    if view.created_timestamp_field:
        wanted.insert(0, (view.created_timestamp_field, "timestamp"))
    changes: list[ColumnChange] = []
    for name, dtype in wanted:
        want = iceberg_type(dtype)
        if name not in existing:
            changes.append(ColumnChange(name, want))
            continue
        have = existing[name].field_type
        if _same_type(have, want):
            continue
        widened = _widening(name, have, want)
        if widened is None:
            msg = (
                f"Feature {name!r} of view {view.name!r} has dtype {dtype!r}, but column "
                f"{name!r} of table {view.table!r} is {have}. Keep the dtype, or add the "
                "changed feature under a new name."
            )
            raise DefinitionError(msg)
        changes.append(widened)
    return changes


def evolved_arrow_schema(table: Table, view: FeatureView) -> pa.Schema:
    """The Arrow schema the table will have after :func:`evolve_feature_table`; changes nothing.

    Raises:
        DefinitionError: A feature's dtype disagrees with its existing column.
    """
    import pyarrow as pa
    from pyiceberg.io.pyarrow import schema_to_pyarrow

    fields = list(table.schema().as_arrow())
    position = {field.name: n for n, field in enumerate(fields)}
    for change in column_changes(table, view):
        kind = schema_to_pyarrow(change.column_type, include_field_ids=False)
        if change.path is None:
            fields.append(pa.field(change.column, kind, nullable=True))
        else:
            old = fields[position[change.column]]
            fields[position[change.column]] = pa.field(old.name, kind, old.nullable, old.metadata)
    return pa.schema(fields)


def _widening(name: str, have: IcebergType, want: IcebergType) -> ColumnChange | None:
    """The change widening column ``name`` from ``have`` to ``want`` in place, or None."""
    from pyiceberg.types import DecimalType, DoubleType, FloatType, IntegerType, ListType, LongType

    if isinstance(have, ListType) and isinstance(want, ListType):
        inner = _widening(f"{name}.element", have.element_type, want.element_type)
        if inner is None:
            return None
        element = ListType(have.element_id, inner.column_type, have.element_required)
        return ColumnChange(name, element, inner.path, inner.path_type)
    promotes = (
        (isinstance(have, IntegerType) and isinstance(want, LongType))
        or (isinstance(have, FloatType) and isinstance(want, DoubleType))
        or (
            isinstance(have, DecimalType)
            and isinstance(want, DecimalType)
            and have.scale == want.scale
            and have.precision <= want.precision
        )
    )
    return ColumnChange(name, want, name, want) if promotes else None


def _same_type(have: IcebergType, want: IcebergType) -> bool:
    from pyiceberg.types import ListType

    if isinstance(have, ListType) and isinstance(want, ListType):
        return _same_type(have.element_type, want.element_type)
    return str(have) == str(want)
