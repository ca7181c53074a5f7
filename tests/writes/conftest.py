"""Fixtures of the write tests: a registered user entity and a spend feature view."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from featurestore import Entity, Feature, FeatureView


def ts(day: int, hour: int = 0) -> datetime:
    return datetime(2024, 1, day, hour, tzinfo=UTC)


def rows(*items: tuple[int, datetime, float | None]) -> pa.Table:
    return pa.table(
        {
            "user_id": pa.array([i[0] for i in items], pa.int64()),
            "event_timestamp": pa.array([i[1] for i in items], pa.timestamp("us", "UTC")),
            "spend": pa.array([i[2] for i in items], pa.float64()),
        }
    )


def content(store: Any, table: str) -> list[tuple[Any, ...]]:
    data = store.load_table(table).scan().to_arrow()
    return sorted((r["user_id"], r["event_timestamp"], r["spend"]) for r in data.to_pylist())


@pytest.fixture
def spend_view(store: Any, feature_ns: str) -> FeatureView:
    view = FeatureView(
        name="user_spend",
        entities=["user"],
        table=f"{feature_ns}.user_spend",
        features=[Feature(name="spend", dtype="float64")],
    )
    store.apply([Entity(name="user", join_keys=["user_id"]), view])
    return view
