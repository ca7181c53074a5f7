"""A feature view together with the state of its table: snapshot, row count, newest event."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from featurestore.catalog import load_table_or_none, translate_errors
from featurestore.registry.schema_check import find_column, table_dtypes

if TYPE_CHECKING:
    from pyiceberg.table import Table

    from featurestore.registry.models import FeatureView
    from featurestore.store import FeatureStore

__all__ = ["describe_feature_view"]


def describe_feature_view(store: FeatureStore, name: str) -> dict[str, Any]:
    """Describe view ``name``: its definition, version, and its table's current state.

    The newest event timestamp comes from the data files' column statistics (upper bounds in
    the manifests), without reading data; only when a file has no statistics is the
    timestamp column scanned.

    Returns:
        ``name``, ``version``, ``registry_snapshot_id``, ``owner``, ``tags``, ``table``,
        ``table_exists``, ``snapshot_id``, ``row_count``, ``newest_event_timestamp``,
        ``join_keys`` and ``definition``.

    Raises:
        NotFoundError: No such view (did you mean).

    Example:
        >>> import featurestore, tempfile
        >>> from featurestore import Entity, Feature, FeatureView
        >>> store = featurestore.connect(home=tempfile.mkdtemp())
        >>> _ = store.apply([Entity(name="user"), FeatureView(name="v", entities=["user"],
        ...     table="f.v", features=[Feature(name="x", dtype="int64")])])
        >>> info = describe_feature_view(store, "v")
        >>> info["version"], info["table_exists"], info["row_count"]
        (1, False, None)
    """
    registry = store.registry()
    view = registry.get_feature_view(name)
    result: dict[str, Any] = {
        "name": view.name,
        "version": registry.version("feature_view", name),
        "registry_snapshot_id": registry.snapshot_id,
        "owner": view.owner,
        "tags": dict(view.tags),
        "table": view.table,
        "join_keys": registry.join_keys(name),
        "table_exists": False,
        "snapshot_id": None,
        "row_count": None,
        "newest_event_timestamp": None,
    }
    table = load_table_or_none(store.catalog, view.table)
    if table is not None:
        result["table_exists"] = True
        snapshot = table.current_snapshot()
        if snapshot is not None:
            summary = snapshot.summary.additional_properties if snapshot.summary else {}
            result["snapshot_id"] = snapshot.snapshot_id
            result["row_count"] = int(summary.get("total-records", 0))
            result["newest_event_timestamp"] = _newest_event(table, view)
    result["definition"] = view.model_dump(mode="json")
    return result


def _newest_event(table: Table, view: FeatureView) -> datetime | None:
    import pyarrow.compute as pc

    column = find_column(view, view.timestamp_field, table_dtypes(table.schema()))
    if column is None:
        return None
    with translate_errors(f"reading file statistics of {'.'.join(table.name())!r}"):
        files = table.inspect.files()
        files = files.filter(pc.equal(files["content"], 0))  # data files, not delete files
        if files.num_rows == 0:
            return None
        metrics = pc.struct_field(files["readable_metrics"], [column])
        bounds = pc.struct_field(metrics, ["upper_bound"])
        if bounds.null_count <= _null_files(files, column):  # every bound is known
            value: datetime | None = pc.max(bounds).as_py()
            return value
        values = table.scan(selected_fields=(column,)).to_arrow().column(column)
    newest: datetime | None = pc.max(values).as_py()
    return newest


def _null_files(files: Any, column: str) -> int:
    """Data files whose column holds only nulls: no upper bound, and none is needed."""
    import pyarrow.compute as pc

    metrics = pc.struct_field(files["readable_metrics"], [column])
    counts = pc.struct_field(metrics, ["value_count"]).to_pylist()
    nulls = pc.struct_field(metrics, ["null_value_count"]).to_pylist()
    return sum(1 for c, n in zip(counts, nulls, strict=True) if c is not None and c == n)
