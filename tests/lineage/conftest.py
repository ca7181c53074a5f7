"""Fixtures of the model-run tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest


@pytest.fixture
def mixed_entities() -> pa.Table:
    """Entity rows with a label, a string id, a nullable int and UTC timestamps."""
    return pa.table(
        {
            "user_id": pa.array([3, 1, 2, 1], pa.int64()),
            "event_timestamp": pa.array(
                [datetime(2024, 1, d, tzinfo=UTC) for d in (4, 1, 3, 2)],
                pa.timestamp("us", tz="UTC"),
            ),
            "name": pa.array(["c", "a", None, "a"], pa.string()),
            "label": pa.array([1, None, 0, 1], pa.int32()),
        }
    )
