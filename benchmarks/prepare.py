"""Put one size's seeded data where every engine can read it.

- ``features.parquet`` and ``entities.parquet`` in the work folder (DuckDB and Feast read these);
- the same feature rows in a featurestore (an Entity and a FeatureView registered through
  ``store.apply``, rows written through ``store.write``, one atomic commit), on the embedded
  SQLite catalog in ``<work>/store`` and, when asked, on a REST catalog server;
- ``meta.json``: what the engine scripts need (paths, view name, features, TTL, how to connect).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.data import FEATURES, Size, entity_frame, feature_table

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Prepared", "prepare", "prepare_stores", "write_store"]

VIEW = "user_stats"


@dataclass
class Prepared:
    """The data of one size, ready for the engines.

    Attributes:
        work: The folder holding the Parquet files and ``meta.json``.
        size: The data shape.
        feature_rows: Rows written.
        files: Parquet data files of the Iceberg table per catalog kind.
        timings: Seconds spent generating, writing Parquet, and writing each store.
        connect: ``featurestore.connect()`` arguments per catalog kind.
    """

    work: Path
    size: Size
    feature_rows: int
    files: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    connect: dict[str, dict[str, Any]] = field(default_factory=dict)


def prepare(
    size: Size,
    work: Path,
    *,
    catalogs: dict[str, dict[str, Any]],
    seed: int = 42,
    ttl: timedelta | None = None,
    threads: int | None = None,
) -> Prepared:
    """Generate ``size`` and write it as Parquet and into one store per catalog.

    Args:
        size: The data shape.
        work: An empty folder for this size.
        catalogs: Catalog kind (``sqlite``, ``rest``) -> ``featurestore.connect()`` arguments.
        seed: Random seed of the generators.
        ttl: TTL of the feature view (all engines use it).
        threads: DuckDB threads for every engine (``None``: all cores).
    """
    import pyarrow.parquet as pq

    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    features, entities = feature_table(size, seed=seed), entity_frame(size, seed=seed)
    prepared = Prepared(work, size, features.num_rows)
    prepared.timings["generate_s"] = time.perf_counter() - start
    start = time.perf_counter()
    pq.write_table(features, work / "features.parquet")
    pq.write_table(entities, work / "entities.parquet")
    prepared.timings["parquet_s"] = time.perf_counter() - start
    for kind, connect in catalogs.items():
        start = time.perf_counter()
        prepared.files[kind] = write_store(connect, features, ttl=ttl)
        prepared.timings[f"store_write_{kind}_s"] = time.perf_counter() - start
        prepared.connect[kind] = connect
    meta = {
        "features_parquet": str(work / "features.parquet"),
        "entities_parquet": str(work / "entities.parquet"),
        "feature_names": list(FEATURES),
        "view": VIEW,
        "ttl_seconds": int(ttl.total_seconds()) if ttl else None,
        "threads": threads,
        "connect": next(iter(catalogs.values()), None),
    }
    (work / "meta.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    return prepared


def prepare_stores(
    size: Size, work: Path, *, catalogs: dict[str, dict[str, Any]], seed: int = 42
) -> Prepared:
    """Write ``size``'s feature rows into more stores (the Parquet files exist already)."""
    features = feature_table(size, seed=seed)
    prepared = Prepared(work, size, features.num_rows)
    for kind, connect in catalogs.items():
        start = time.perf_counter()
        prepared.files[kind] = write_store(connect, features, ttl=None)
        prepared.timings[f"store_write_{kind}_s"] = time.perf_counter() - start
        prepared.connect[kind] = connect
    return prepared


def write_store(connect: dict[str, Any], features: pa.Table, *, ttl: timedelta | None) -> int:
    """Register the benchmark view and write ``features``; return the table's data file count."""
    import featurestore
    from featurestore import Entity, Feature, FeatureView
    from featurestore.catalog import ensure_namespace

    store = featurestore.connect(**connect)
    data_namespace = f"{store.namespace}_data"
    ensure_namespace(store.catalog, data_namespace)
    view = FeatureView(
        name=VIEW,
        entities=["user"],
        table=f"{data_namespace}.{VIEW}",
        created_timestamp_field="created",
        features=[Feature(name=name, dtype="float64") for name in FEATURES],
        ttl=ttl,
    )
    store.apply([Entity(name="user", join_keys=["user_id"]), view])
    store.write(VIEW, features)
    table = store.load_table(view.table)
    return sum(1 for _ in table.scan().plan_files())
