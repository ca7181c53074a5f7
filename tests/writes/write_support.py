"""Helpers of the write tests: timestamps, row tables, and a table's content."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa


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
