"""Feature computation: a 7-day gap-filled mean spend per user and day from raw transactions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from featurestore import DataValidationError, Entity, Feature, FeatureView, NotFoundError
from featurestore.writes.materialize import source_tables

SQL = """
WITH days AS (
    SELECT unnest(generate_series($start::TIMESTAMPTZ, $end::TIMESTAMPTZ - INTERVAL 1 DAY,
                                  INTERVAL 1 DAY)) AS day
),
users AS (SELECT DISTINCT user_id FROM raw.transactions),
daily AS (
    SELECT user_id, date_trunc('day', ts) AS day, sum(amount) AS spend
    FROM raw.transactions
    WHERE ts >= $start::TIMESTAMPTZ - INTERVAL 6 DAY AND ts < $end::TIMESTAMPTZ
    GROUP BY ALL
)
SELECT u.user_id,
       d.day + INTERVAL 1 DAY - INTERVAL 1 MICROSECOND AS event_timestamp,
       coalesce((SELECT sum(spend) FROM daily x WHERE x.user_id = u.user_id
                 AND x.day > d.day - INTERVAL 7 DAY AND x.day <= d.day), 0) / 7.0 AS spend_7d_mean
FROM users u CROSS JOIN days d
"""

TX = [  # (user, day of January 2024, hour, amount)
    (1, 1, 10, 70.0),
    (1, 3, 12, 14.0),
    (1, 9, 8, 7.0),
    (2, 2, 23, 35.0),
    (2, 10, 1, 21.0),
]


def _day(day: int, hour: int = 0) -> datetime:
    return datetime(2024, 1, day, hour, tzinfo=UTC)


def _oracle(start: int, end: int) -> list[tuple[int, datetime, float]]:
    out = []
    for user in (1, 2):
        for day in range(start, end):
            total = sum(a for u, d, _, a in TX if u == user and day - 6 <= d <= day)
            out.append((user, _day(day) + timedelta(days=1, microseconds=-1), total / 7.0))
    return out


@pytest.fixture
def raw_store(store: Any, feature_ns: str) -> Any:
    from featurestore.catalog import ensure_namespace

    ensure_namespace(store.catalog, "raw")
    name = "raw.transactions"
    if store.catalog.table_exists(name):
        store.catalog.purge_table(name)
    schema = pa.schema(
        [("user_id", pa.int64()), ("ts", pa.timestamp("us", "UTC")), ("amount", pa.float64())]
    )
    table = store.catalog.create_table(name, schema=schema)
    table.append(
        pa.table(
            {
                "user_id": [t[0] for t in TX],
                "ts": [_day(t[1], t[2]) for t in TX],
                "amount": [t[3] for t in TX],
            },
            schema=schema,
        )
    )
    view = FeatureView(
        name="spend_7d",
        entities=["user"],
        table=f"{feature_ns}.spend_7d",
        features=[Feature(name="spend_7d_mean", dtype="float64")],
    )
    store.apply([Entity(name="user", join_keys=["user_id"]), view])
    return store


def _content(store: Any, view: str) -> list[tuple[int, datetime, float]]:
    table = store.load_table(store.get_feature_view(view).table).scan().to_arrow()
    return sorted(
        (r["user_id"], r["event_timestamp"], round(r["spend_7d_mean"], 9))
        for r in table.to_pylist()
    )


def _rounded(rows: list[tuple[int, datetime, float]]) -> list[tuple[int, datetime, float]]:
    return sorted((u, t, round(v, 9)) for u, t, v in rows)


def test_gap_filled_7_day_mean(raw_store: Any) -> None:
    store = raw_store
    first = store.materialize("spend_7d", SQL, start=_day(5), end=_day(12))
    assert _content(store, "spend_7d") == _rounded(_oracle(5, 12))
    raw_snapshot = store.load_table("raw.transactions").current_snapshot().snapshot_id
    summary = store.load_table(store.get_feature_view("spend_7d").table).current_snapshot().summary
    assert summary["featurestore.source-snapshots"] == f'{{"raw.transactions": {raw_snapshot}}}'
    assert summary["featurestore.mode"] == "replace_range"
    again = store.materialize("spend_7d", SQL, start=_day(5), end=_day(12))
    assert again.rows_deleted == first.rows_written == 14
    assert _content(store, "spend_7d") == _rounded(_oracle(5, 12))
    store.materialize("spend_7d", SQL, start=_day(1), end=_day(5))
    assert _content(store, "spend_7d") == _rounded(_oracle(1, 12))


def test_source_tables_ignores_ctes_and_parameters() -> None:
    assert source_tables(SQL) == ["raw.transactions"]


def test_unknown_source_table_and_bad_sql(store: Any, feature_ns: str) -> None:
    view = FeatureView(
        name="v",
        entities=["user"],
        table=f"{feature_ns}.v",
        features=[Feature(name="x", dtype="float64")],
    )
    store.apply([Entity(name="user", join_keys=["user_id"]), view])
    with pytest.raises(NotFoundError, match=r"nope\.missing"):
        store.materialize("v", "SELECT * FROM nope.missing", start=_day(1), end=_day(2))
    with pytest.raises(DataValidationError, match="feature SQL"):
        store.materialize("v", "SELECT FROM WHERE", start=_day(1), end=_day(2))
    with pytest.raises(DataValidationError, match="outside the replaced range"):
        store.materialize(
            "v",
            "SELECT 1::BIGINT AS user_id, $end::TIMESTAMPTZ AS event_timestamp, 1.0::DOUBLE AS x",
            start=_day(1),
            end=_day(2),
        )


def test_only_a_select_runs_and_it_cannot_touch_files(
    store: Any, feature_ns: str, tmp_path: Any
) -> None:
    view = FeatureView(
        name="v",
        entities=["user"],
        table=f"{feature_ns}.v",
        features=[Feature(name="x", dtype="float64")],
    )
    store.apply([Entity(name="user", join_keys=["user_id"]), view])
    target = tmp_path / "copied.csv"
    with pytest.raises(DataValidationError, match="must be a SELECT statement, got a COPY"):
        store.materialize("v", f"COPY (SELECT 1) TO '{target}'", start=_day(1), end=_day(2))
    assert not target.exists()
    source = tmp_path / "rows.csv"
    source.write_text("user_id,event_timestamp,x\n1,2024-01-01 05:00:00+00,1.0\n")
    with pytest.raises(DataValidationError, match="feature SQL failed"):
        store.materialize("v", f"SELECT * FROM read_csv('{source}')", start=_day(1), end=_day(2))
    assert not store.catalog.table_exists(view.table)
