"""The ``<namespace>.model_runs`` Iceberg table: its schema, and reading and appending rows.

The table is an ordinary Iceberg table that any engine (Spark, Trino, DuckDB) can query:

==========================  ==========================================================
column                      type
==========================  ==========================================================
model, version              string, required (the identifier fields)
trained_at                  timestamptz (UTC)
description                 string
feature_refs                list<string>
views                       list<struct<alias, view, table: string, snapshot_id: long,
                            schema_id: int, feature_names: list<string>,
                            source_snapshots: map<string, long>,
                            source_write_snapshot_id: long>>
registry_snapshot_id        long
entity_table                string; entity_snapshot_id: long
entity_columns              list<string>
timestamp_column            string; point_in_time: string; full_feature_names: boolean
output_columns              list<string>
row_count                   long; content_hash: string (``sha256:<hex>``)
training_window_start/end   timestamptz
params                      string (JSON object: values of any JSON type)
metrics                     map<string, double>
tags                        map<string, string>
featurestore_version        string; git_commit: string; mlflow_run_id: string
==========================  ==========================================================

Appends are optimistic: PyIceberg's own commit retry is switched off for this table
(``commit.retry.num-retries=0``), because a retried append would re-apply a row that was
checked against a stale snapshot. :func:`append_if_absent` instead reloads, re-checks the
(model, version) and appends, asserting the snapshot it checked is still current.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from featurestore._internal.retry import NO_PYICEBERG_RETRIES, retry_lost_races
from featurestore.catalog import ensure_namespace, load_table_or_none, translate_errors
from featurestore.errors import AlreadyExistsError, CommitConflictError
from featurestore.lineage.models import ModelRun, ViewRecord

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table

    from featurestore.store import FeatureStore

__all__ = [
    "MODEL_RUNS",
    "append_if_absent",
    "ensure_runs_table",
    "load_runs_table",
    "read_runs",
    "runs_schema",
]

MODEL_RUNS = "model_runs"
_PROPERTIES = {**NO_PYICEBERG_RETRIES, "featurestore.system-table": MODEL_RUNS}
_ATTEMPTS = 20


def runs_schema() -> Schema:
    """The Iceberg schema of the model_runs table (field IDs are reassigned on create)."""
    from pyiceberg.schema import Schema
    from pyiceberg.types import (
        BooleanType,
        DoubleType,
        IntegerType,
        ListType,
        LongType,
        MapType,
        NestedField,
        StringType,
        StructType,
        TimestamptzType,
    )

    ids = iter(range(1, 1000))

    def field(name: str, kind: Any, *, required: bool = False) -> NestedField:
        return NestedField(next(ids), name, kind, required=required)

    def strings() -> ListType:
        return ListType(next(ids), StringType(), element_required=False)

    def mapping(value: Any) -> MapType:
        return MapType(next(ids), StringType(), next(ids), value, value_required=False)

    top = [
        field("model", StringType(), required=True),
        field("version", StringType(), required=True),
    ]
    top += [field("trained_at", TimestamptzType()), field("description", StringType())]
    top += [field("feature_refs", strings())]
    view = StructType(
        *(field(n, StringType()) for n in ("alias", "view", "table")),
        field("snapshot_id", LongType()),
        field("schema_id", IntegerType()),
        field("feature_names", strings()),
        field("source_snapshots", mapping(LongType())),
        field("source_write_snapshot_id", LongType()),
    )
    top.append(field("views", ListType(next(ids), view, element_required=False)))
    top += [field("registry_snapshot_id", LongType()), field("entity_table", StringType())]
    top += [field("entity_snapshot_id", LongType()), field("entity_columns", strings())]
    top += [field("timestamp_column", StringType()), field("point_in_time", StringType())]
    top += [field("full_feature_names", BooleanType()), field("output_columns", strings())]
    top += [field("row_count", LongType()), field("content_hash", StringType())]
    top += [field("training_window_start", TimestamptzType())]
    top += [field("training_window_end", TimestamptzType()), field("params", StringType())]
    top += [field("metrics", mapping(DoubleType())), field("tags", mapping(StringType()))]
    top += [field(n, StringType()) for n in ("featurestore_version", "git_commit")]
    top.append(field("mlflow_run_id", StringType()))
    return Schema(*top, identifier_field_ids=[1, 2])


def load_runs_table(store: FeatureStore) -> Table | None:
    """Load the model_runs table, or ``None`` when no run was logged yet (nothing is created)."""
    return load_table_or_none(store.catalog, store.system_table_name(MODEL_RUNS))


def ensure_runs_table(store: FeatureStore) -> Table:
    """Load the model_runs table, creating it first if needed (safe under concurrent callers)."""
    table = load_runs_table(store)
    if table is not None:
        return table
    name = store.system_table_name(MODEL_RUNS)
    ensure_namespace(store.catalog, store.namespace)
    with translate_errors(f"creating {name!r}"):
        return store.catalog.create_table_if_not_exists(
            name, schema=runs_schema(), properties=_PROPERTIES
        )


def read_runs(
    table: Table, *, model: str | None = None, version: str | None = None
) -> list[ModelRun]:
    """Read the runs of ``table`` at its current snapshot, optionally of one model / version."""
    with translate_errors(f"reading {table.name()!r}"):
        rows = table.scan(row_filter=_filter(model, version)).to_arrow().to_pylist()
    return sorted((row_to_run(r) for r in rows), key=lambda r: (r.model, r.trained_at, r.version))


def append_if_absent(
    store: FeatureStore, run: ModelRun, *, before_commit: Callable[[], None] | None = None
) -> None:
    """Append ``run`` unless its (model, version) exists, atomically against concurrent loggers.

    Raises:
        AlreadyExistsError: The (model, version) was logged before (maybe by another process).
        CommitConflictError: Concurrent commits kept winning for every attempt.
    """

    def step() -> None:
        table = ensure_runs_table(store)
        row = run_to_arrow(run, table.schema())
        if _exists(table, run.model, run.version):
            raise already_logged(run.model, run.version)
        if before_commit is not None:
            before_commit()
        with translate_errors(f"appending to {table.name()!r}"):
            table.append(row, snapshot_properties={"featurestore.writer": "model_runs"})

    def exhausted() -> CommitConflictError:
        return CommitConflictError(
            f"Could not log model {run.model!r} version {run.version!r}: {_ATTEMPTS} concurrent "
            "commits to the model_runs table won in a row. Re-run log_model_run."
        )

    retry_lost_races(step, attempts=_ATTEMPTS, exhausted=exhausted, max_wait_s=1.0)


def already_logged(model: str, version: str) -> AlreadyExistsError:
    """The error for a second log of the same (model, version)."""
    msg = (
        f"Model {model!r} version {version!r} is already logged; model runs are immutable. "
        "Log a new version instead (e.g. bump the version string)."
    )
    return AlreadyExistsError(msg)


def _exists(table: Table, model: str, version: str) -> bool:
    snapshot = table.current_snapshot()
    if snapshot is None:
        return False
    with translate_errors(f"reading {table.name()!r}"):
        found = table.scan(
            row_filter=_filter(model, version),
            selected_fields=("model", "version"),
            snapshot_id=snapshot.snapshot_id,
        ).to_arrow()
    return bool(found.num_rows)


def _filter(model: str | None, version: str | None) -> Any:
    from pyiceberg.expressions import AlwaysTrue, And, EqualTo as _EqualTo

    equal: Any = _EqualTo  # its pydantic signature hides the (term, literal) constructor
    expression: Any = AlwaysTrue()
    if model is not None:
        expression = And(expression, equal("model", model))
    if version is not None:
        expression = And(expression, equal("version", version))
    return expression


def run_to_arrow(run: ModelRun, schema: Schema | None = None) -> pa.Table:
    """One-row Arrow table of ``run`` in ``schema`` (default: :func:`runs_schema`)."""
    import pyarrow as pa

    data = run.model_dump()
    data["params"] = json.dumps(run.params, sort_keys=True)
    data["metrics"] = list(run.metrics.items())
    data["tags"] = list(run.tags.items())
    data["views"] = [
        {**v.model_dump(), "source_snapshots": list(v.source_snapshots.items())} for v in run.views
    ]
    return pa.Table.from_pylist([data], schema=(schema or runs_schema()).as_arrow())


def row_to_run(row: dict[str, Any]) -> ModelRun:
    """Turn a model_runs row back into a :class:`ModelRun` (unknown columns are ignored)."""
    known = set(ModelRun.model_fields)
    data = {k: v for k, v in row.items() if k in known}
    data["params"] = json.loads(row["params"]) if row.get("params") else {}
    data["metrics"] = dict(row.get("metrics") or [])
    data["tags"] = dict(row.get("tags") or [])
    data["views"] = tuple(_view(v) for v in row.get("views") or [])
    for key in ("feature_refs", "entity_columns", "output_columns"):
        data[key] = tuple(row.get(key) or ())
    return ModelRun.model_validate(data)


def _view(value: dict[str, Any]) -> ViewRecord:
    known = set(ViewRecord.model_fields)
    data = {k: v for k, v in value.items() if k in known}
    data["source_snapshots"] = dict(value.get("source_snapshots") or [])
    data["feature_names"] = tuple(value.get("feature_names") or ())
    return ViewRecord.model_validate(data)
