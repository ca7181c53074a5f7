"""Seeded synthetic data for the point-in-time benchmark (sizes a-d of notes/benchmarks.md).

Feature table: ``user_id`` (int64), ``event_timestamp`` and ``created`` (timestamptz, UTC, us)
and five float64 features ``f1``..``f5``. Entity frame: ``user_id``, ``event_timestamp`` drawn
over the same period, plus ``entity_row`` (the row ordinal, a pass-through column like a label,
used to line results up when an engine does not keep the input order).

The data is built so that every engine must get the semantics right, not just be fast:

- about 1% of feature rows repeat the event time of another row of the same key with a later
  ``created`` (the created-timestamp tie-break decides the winner); there are no exact
  ``(key, event_timestamp, created)`` ties, so the expected answer is unique;
- about 2% of entity keys have no feature rows, and entity times start before the first
  feature row of many keys (NULL features, the row stays);
- about 0.5% of entity rows are exact duplicates of the previous row (they must stay duplicates);
- about 0.5% of ``f5`` values are NULL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["FEATURES", "PERIOD_DAYS", "SIZES", "START", "Size", "entity_frame", "feature_table"]

START = datetime(2024, 1, 1, tzinfo=UTC)
PERIOD_DAYS = 90
FEATURES = ("f1", "f2", "f3", "f4", "f5")
_US_PER_DAY = 86_400 * 1_000_000


@dataclass(frozen=True)
class Size:
    """One data shape.

    Attributes:
        name: ``a``..``d``, or a scaling label.
        feature_rows: Rows of the feature table.
        keys: Distinct ``user_id`` values in the feature table.
        entity_rows: Rows of the entity frame.
        entity_window: The entity times fall in days ``[first, last)`` of the period
            (``None``: the whole period).
    """

    name: str
    feature_rows: int
    keys: int
    entity_rows: int
    entity_window: tuple[int, int] | None = None

    @property
    def rows_per_key(self) -> int:
        return max(1, self.feature_rows // self.keys)


SIZES = {
    "a": Size("a", 1_000_000, 100_000, 100_000),
    "b": Size("b", 10_000_000, 1_000_000, 1_000_000),
    "c": Size("c", 10_000_000, 10_000, 1_000_000),
    "d": Size("d", 1_000_000, 1_000, 100_000),
    # Tiny shape for the smoke test: deep enough for ties, small enough for seconds.
    "tiny": Size("tiny", 2_000, 100, 500),
}


def feature_table(size: Size, *, seed: int = 42) -> pa.Table:
    """Generate the feature table of ``size``, sorted by event time (append order).

    Example:
        >>> t = feature_table(SIZES["tiny"], seed=1)
        >>> t.num_rows, t.column_names[:3]
        (2000, ['user_id', 'event_timestamp', 'created'])
    """
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    rpk = size.rows_per_key
    n = size.keys * rpk
    user_id = np.repeat(np.arange(size.keys, dtype=np.int64), rpk)
    start_us = int(START.timestamp() * 1_000_000)
    ts = start_us + rng.integers(0, PERIOD_DAYS * _US_PER_DAY // 1_000_000, n) * 1_000_000
    if rpk > 1:  # ~1% of rows tie on event time with the previous row of the same key
        ties = np.flatnonzero((rng.random(n) < 0.01) & (np.arange(n) % rpk != 0))
        ts[ties] = ts[ties - 1]
    created = ts + rng.integers(0, 3_600 * 1_000_000, n)
    if rpk > 1:
        created[ties] = created[ties - 1] + 1_000_000  # unique winner: one second later
    order = np.argsort(ts, kind="stable")
    tz = pa.timestamp("us", tz="UTC")
    columns: dict[str, pa.Array] = {
        "user_id": pa.array(user_id[order]),
        "event_timestamp": pa.array(ts[order], type=tz),
        "created": pa.array(created[order], type=tz),
    }
    for name in FEATURES:
        values = rng.standard_normal(n)[order]
        mask = (rng.random(n) < 0.005) if name == "f5" else None
        columns[name] = pa.array(values, mask=mask, type=pa.float64())
    return pa.table(columns)


def entity_frame(size: Size, *, seed: int = 42) -> pa.Table:
    """Generate the entity frame of ``size`` (``entity_row``, ``user_id``, ``event_timestamp``).

    Example:
        >>> e = entity_frame(SIZES["tiny"], seed=1)
        >>> e.num_rows, e.column_names
        (500, ['entity_row', 'user_id', 'event_timestamp'])
    """
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed + 1)
    n = size.entity_rows
    user_id = rng.integers(0, int(size.keys * 1.02) + 1, n, dtype=np.int64)
    first, last = size.entity_window or (0, PERIOD_DAYS)
    begin_s = int((START + timedelta(days=first)).timestamp())
    ts = (begin_s + rng.integers(0, (last - first) * 86_400, n)) * 1_000_000
    dup = np.flatnonzero(rng.random(n) < 0.005)
    dup = dup[dup > 0]
    user_id[dup] = user_id[dup - 1]
    ts[dup] = ts[dup - 1]
    return pa.table(
        {
            "entity_row": pa.array(np.arange(n, dtype=np.int64)),
            "user_id": pa.array(user_id),
            "event_timestamp": pa.array(ts, type=pa.timestamp("us", tz="UTC")),
        }
    )
