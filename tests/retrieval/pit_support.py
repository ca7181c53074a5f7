"""Helpers for retrieval tests: feature tables written with PyIceberg directly, views applied."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
from reference import RefView, reference_join

import featurestore.retrieval.engine as engine_module
from featurestore.registry.dtypes import canonical_dtype
from featurestore.registry.models import Entity, Feature, FeatureView

UTC = dt.UTC
TS = pa.timestamp("us", tz="UTC")
MODES = ["event", "known"]
LATER = dt.datetime(2100, 1, 1, tzinfo=UTC)  # after every commit (known mode sees all rows)


def at(day: int, hour: int = 0, minute: int = 0, micro: int = 0) -> dt.datetime:
    return dt.datetime(2024, 1, day, hour, minute, 0, micro, tzinfo=UTC)


def make_table(
    store: Any, name: str, schema: pa.Schema, batches: list[list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Create ``name`` and append each batch (one snapshot each); rows in commit order."""
    table = store.catalog.create_table(name, schema=schema)
    rows: list[dict[str, Any]] = []
    for batch in batches:
        if not batch:
            continue
        table.append(pa.Table.from_pylist(batch, schema=schema))
        snapshot = table.current_snapshot()
        commit = dt.datetime.fromtimestamp(snapshot.timestamp_ms / 1000, UTC)
        rows += [{**row, "_commit": commit} for row in batch]
    return rows


def view_def(
    name: str,
    table: str,
    keys: list[str],
    features: dict[str, pa.DataType],
    *,
    ttl: dt.timedelta | None = None,
    created: str | None = None,
    timestamp: str = "event_timestamp",
) -> tuple[Entity, FeatureView]:
    entity = Entity(name=f"{name}_entity", join_keys=keys)
    view = FeatureView(
        name=name,
        entities=[entity.name],
        table=table,
        timestamp_field=timestamp,
        created_timestamp_field=created,
        features=[Feature(name=f, dtype=canonical_dtype(t)) for f, t in features.items()],
        ttl=ttl,
    )
    return entity, view


def ref_view(
    view: FeatureView,
    keys: list[str],
    rows: list[dict[str, Any]],
    *,
    outputs: list[str] | None = None,
    entity_keys: list[str] | None = None,
    ingested: str | None = None,
) -> RefView:
    created = view.created_timestamp_field or ingested
    return RefView(
        entity_keys=entity_keys or keys,
        view_keys=keys,
        timestamp=view.timestamp_field,
        features=view.feature_names,
        outputs=outputs or view.feature_names,
        rows=rows,
        created=created,
        ttl=view.ttl,
        ingested=ingested,
    )


def assert_matches_reference(
    store: Any, entities: Any, features: list[str], views: list[RefView], **options: Any
) -> Any:
    """Run the engine and the oracle on the same input; they must agree row for row."""
    result = store.get_historical_features(entities, features, **options)
    used = result.entity_frame().to_pylist()
    expected = reference_join(
        used, result.timestamp_column, views, known=options.get("point_in_time") == "known"
    )
    actual = result.to_arrow().to_pylist()
    assert len(actual) == len(expected)
    for i, (got, want) in enumerate(zip(actual, expected, strict=True)):
        assert got == want, f"row {i}: engine {got} != reference {want}"
    return result


def joins_built(monkeypatch: Any) -> list[Any]:
    """The ViewJoins of every join query built from now on (which rank, which plan)."""
    built: list[Any] = []
    original = engine_module.build_sql

    def spy(*, views: Any, **options: Any) -> str:
        built.extend(views)
        return original(views=views, **options)

    monkeypatch.setattr(engine_module, "build_sql", spy)
    return built


def user_entities(pairs: list[tuple[Any, Any]]) -> pa.Table:
    """An entity frame of ``(user_id, event_timestamp)`` pairs (int64 keys, UTC times)."""
    return pa.table(
        {"user_id": [k for k, _ in pairs], "event_timestamp": [t for _, t in pairs]},
        schema=pa.schema([("user_id", pa.int64()), ("event_timestamp", TS)]),
    )
