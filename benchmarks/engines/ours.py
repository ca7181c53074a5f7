"""featurestore end to end: connect, ``get_historical_features(entities, ["view:*"])``, Arrow.

Marks: ``imported`` (``import featurestore``), ``connected`` (``connect()``; the catalog is
contacted lazily, inside the first call), ``warm_start`` / ``warm_end`` around the warm-up:
the same call for the first entity row only (every engine makes one: it pays the one-time
costs, here the PyIceberg, SQLAlchemy and DuckDB imports and the catalog connection),
``join_start`` / ``join_end`` around ``get_historical_features(...).to_arrow()`` for every
entity row (registry check, table load, planning, Iceberg scan, DuckDB join, Arrow result).

``first_read`` is when every feature scan of the warm-up call is planned and its join query
is built, the step right before the first feature row is read (a wrapper around
``featurestore.retrieval.engine.build_sql``), so ``import + connect + (first_read -
warm_start)`` is the fixed overhead before the first row is read.
"""

from __future__ import annotations

from typing import Any

from _child import Timeline, finish, parse_args


def hook_first_read(timeline: Timeline) -> None:
    """Record when the join query is built, right before rows are read (measurement only)."""
    import featurestore.retrieval.engine as engine

    original = engine.build_sql

    def timed(*args: Any, **kwargs: Any) -> Any:
        if "first_read" not in timeline.marks:
            timeline.mark("first_read")
        return original(*args, **kwargs)

    engine.build_sql = timed


def scan_stats(training_set: Any) -> dict[str, Any] | None:
    """Scan statistics the TrainingSet exposes, if it exposes any."""
    for name in ("scan_stats", "stats", "scan_metrics"):
        value = getattr(training_set, name, None)
        if callable(value):
            value = value()
        if value is not None:
            return value if isinstance(value, dict) else {"repr": repr(value)}
    return None


def main() -> None:
    timeline = Timeline()
    meta, out = parse_args()
    import pyarrow.parquet as pq

    entities = pq.read_table(meta["entities_parquet"])
    timeline.mark("input_ready")
    import featurestore

    timeline.mark("imported")
    store = featurestore.connect(**meta["connect"])
    timeline.mark("connected")
    refs = [f"{meta['view']}:*"]
    timeline.mark("warm_start")  # the hook imports the engine module: part of the call's cost
    hook_first_read(timeline)
    store.get_historical_features(entities.slice(0, 1), refs).to_arrow()
    timeline.mark("warm_end")
    timeline.mark("join_start")
    training_set = store.get_historical_features(entities, refs)
    timeline.mark("planned")
    table = training_set.to_arrow()
    timeline.mark("join_end")
    snapshots = getattr(training_set, "snapshot_ids", None)
    finish(
        out,
        table,
        timeline,
        engine="ours",
        featurestore_version=featurestore.__version__,
        catalog=store.catalog_type,
        scan_stats=scan_stats(training_set),
        snapshot_ids=snapshots if isinstance(snapshots, dict) else None,
    )


if __name__ == "__main__":
    main()
