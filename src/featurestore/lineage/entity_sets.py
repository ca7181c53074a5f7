"""Entity sets: the entity rows of a training set, saved as their own Iceberg table per run.

One table per model run, ``<namespace>.entity_set__<model>__v<version>__<random>``, because
entity frames differ in schema from run to run, and a table of its own makes snapshot
protection (a tag) and expiry per run simple. The random suffix means two concurrent logs
of the same (model, version) never collide on the table; the loser drops its own table.

Row order is part of a training set, and Iceberg does not promise the order of a scan, so the
rows are stored with an ordinal column ``_fs_row`` and read back sorted by it. The exact Arrow
schema of the frame is kept in the table property ``featurestore.arrow-schema`` so the rows
read back with the same types (``string`` stays ``string``, not ``large_string``).
"""

from __future__ import annotations

import base64
import contextlib
import uuid
from typing import TYPE_CHECKING

from featurestore.catalog import ensure_namespace, translate_errors
from featurestore.errors import DataValidationError, FeatureStoreError, SnapshotNotFoundError

if TYPE_CHECKING:
    import pyarrow as pa

    from featurestore.store import FeatureStore

__all__ = ["ORDINAL", "drop_entity_set", "entity_set_name", "read_entity_set", "save_entity_set"]

ORDINAL = "_fs_row"
_SCHEMA_PROPERTY = "featurestore.arrow-schema"


def entity_set_name(store: FeatureStore, model: str, version: str) -> str:
    """A fresh table name for the entity set of ``model`` ``version``.

    Example:
        >>> import featurestore, tempfile
        >>> store = featurestore.connect(home=tempfile.mkdtemp(), namespace="fs")
        >>> entity_set_name(store, "churn-v", "1.2").startswith("fs.entity_set__churn_v__v1_2__")
        True
    """
    slug = version.replace(".", "_").replace("-", "_")
    name = f"entity_set__{model.replace('-', '_')}__v{slug}__{uuid.uuid4().hex[:12]}"
    return store.system_table_name(name)


def save_entity_set(
    store: FeatureStore, name: str, frame: pa.Table, *, model: str, version: str
) -> int:
    """Create table ``name`` holding ``frame`` (with its row order) and return its snapshot ID.

    On failure the half-created table is dropped again.

    Raises:
        DataValidationError: A column type Iceberg cannot store (e.g. unsigned or null type).
    """
    import pyarrow as pa

    if ORDINAL in frame.column_names:
        msg = f"Entity column {ORDINAL!r} is reserved by the store; rename it."
        raise DataValidationError(msg)
    schema = frame.schema.remove_metadata()
    data = frame.append_column(ORDINAL, pa.array(range(frame.num_rows), pa.int64()))
    properties = {
        "featurestore.system-table": "entity_set",
        "featurestore.model": model,
        "featurestore.version": version,
        _SCHEMA_PROPERTY: base64.b64encode(schema.serialize().to_pybytes()).decode("ascii"),
    }
    ensure_namespace(store.catalog, store.namespace)
    try:
        with translate_errors(f"saving the entity set {name!r}"):
            table = store.catalog.create_table(name, schema=data.schema, properties=properties)
            table.append(data, snapshot_properties={"featurestore.writer": "entity_set"})
    except FeatureStoreError:
        drop_entity_set(store, name)
        raise
    except (ValueError, TypeError, NotImplementedError) as exc:
        drop_entity_set(store, name)
        msg = (
            f"Cannot save the entity rows as an Iceberg table: {exc}. Cast unsupported columns "
            "(unsigned ints, null-typed or dictionary columns) to Iceberg types first."
        )
        raise DataValidationError(msg) from exc
    snapshot = table.current_snapshot()
    if snapshot is None:  # pragma: no cover - an append always makes a snapshot
        msg = f"Saving entity set {name!r} produced no snapshot."
        raise DataValidationError(msg)
    return snapshot.snapshot_id


def read_entity_set(store: FeatureStore, name: str, snapshot_id: int | None) -> pa.Table:
    """Read the entity rows of ``name`` at ``snapshot_id``, in their saved order and types.

    Raises:
        NotFoundError: The table was dropped.
        SnapshotNotFoundError: The snapshot was expired.
    """
    import pyarrow as pa

    table = store.load_table(name)
    if snapshot_id is None or table.snapshot_by_id(snapshot_id) is None:
        raise snapshot_gone(name, snapshot_id)
    with translate_errors(f"reading the entity set {name!r}"):
        rows = table.scan(snapshot_id=snapshot_id).to_arrow()
    rows = rows.sort_by(ORDINAL).drop_columns([ORDINAL])
    encoded = table.properties.get(_SCHEMA_PROPERTY)
    if encoded is None:
        return rows
    schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(encoded)))
    return rows.select(schema.names).cast(schema)


def drop_entity_set(store: FeatureStore, name: str) -> None:
    """Drop (and purge) an entity set table; a table that is already gone is fine."""
    with contextlib.suppress(FeatureStoreError), translate_errors(f"dropping {name!r}"):
        store.catalog.purge_table(name)


def snapshot_gone(table: str, snapshot_id: int | None) -> SnapshotNotFoundError:
    """The error for a snapshot a model run needs that is no longer in ``table``'s history."""
    error = SnapshotNotFoundError(
        f"snapshot of table {table!r}",
        str(snapshot_id),
        hint=(
            "It was expired (or the table was rewritten), so this model run cannot be "
            "reproduced. Call store.protect_model_run(model, version) right after logging a "
            "run: it tags the snapshots so snapshot expiry keeps them."
        ),
    )
    error.table = table  # type: ignore[attr-defined]
    error.snapshot_id = snapshot_id  # type: ignore[attr-defined]
    return error
