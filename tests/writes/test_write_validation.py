"""Every bad input is rejected before any commit: the table's current snapshot is unchanged."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from write_support import content, rows, ts

from featurestore import DataValidationError, Entity, Feature, FeatureView

BAD_INPUTS: dict[str, tuple[Callable[[], Any], dict[str, Any], str]] = {
    "missing column": (
        lambda: rows((1, ts(1), 1.0)).drop_columns(["spend"]),
        {},
        r"missing columns \['spend'\]",
    ),
    "unexpected column": (
        lambda: rows((1, ts(1), 1.0)).append_column("extra", pa.array([1])),
        {},
        r"unexpected columns \['extra'\]",
    ),
    "ingested_at given": (
        lambda: rows((1, ts(1), 1.0)).append_column("_ingested_at", pa.array([ts(1)])),
        {},
        "stamped by the store",
    ),
    "string to float": (
        lambda: rows((1, ts(1), 1.0)).set_column(2, "spend", pa.array(["1.0"])),
        {},
        "cannot be cast safely",
    ),
    "float to int key": (
        lambda: rows((1, ts(1), 1.0)).set_column(0, "user_id", pa.array([1.0])),
        {},
        "cannot be cast safely",
    ),
    "null key": (
        lambda: pa.table(
            {
                "user_id": pa.array([1, None, None], pa.int64()),
                "event_timestamp": [ts(1)] * 3,
                "spend": [1.0] * 3,
            }
        ),
        {},
        r"'user_id': 2 NULL.*'row': 1",
    ),
    "null timestamp": (
        lambda: pa.table(
            {
                "user_id": [1],
                "event_timestamp": pa.array([None], pa.timestamp("us")),
                "spend": [1.0],
            }
        ),
        {},
        "'event_timestamp': 1 NULL",
    ),
    "huge int to float": (
        lambda: rows((1, ts(1), 1.0)).set_column(2, "spend", pa.array([2**60])),
        {},
        "2\\*\\*53",
    ),
    "row outside range": (
        lambda: rows((1, ts(1), 1.0), (1, ts(5), 1.0)),
        {"mode": "replace_range", "start": ts(1), "end": ts(2)},
        "1 row\\(s\\) .* outside",
    ),
    "start after end": (
        lambda: rows(),
        {"mode": "replace_range", "start": ts(3), "end": ts(2)},
        "must be before end",
    ),
    "range without end": (
        lambda: rows(),
        {"mode": "replace_range", "start": ts(3)},
        "needs both start and end",
    ),
    "start in append": (lambda: rows(), {"start": ts(3)}, "only for mode='replace_range'"),
    "unknown mode": (lambda: rows(), {"mode": "merge"}, "Valid modes: append, upsert"),
    "not a frame": (lambda: [1, 2], {}, "Unsupported data"),
    # an empty input is validated too: replacing a range with nothing must not happen because
    # a job's output lost its columns
    "empty, wrong columns": (lambda: pa.table({"oops": pa.array([], pa.string())}), {}, "oops"),
    "empty, wrong columns, range": (
        lambda: pa.table({"oops": pa.array([], pa.string())}),
        {"mode": "replace_range", "start": ts(1), "end": ts(2)},
        r"missing columns \['user_id', 'event_timestamp', 'spend'\]",
    ),
    "empty, wrong type, upsert": (
        lambda: rows().set_column(2, "spend", pa.array([], pa.string())),
        {"mode": "upsert"},
        "cannot be cast safely",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_leaves_table_unchanged(store: Any, spend_view: FeatureView, case: str) -> None:
    store.write("user_spend", rows((9, ts(1), 9.0)))
    before = store.load_table(spend_view.table).current_snapshot().snapshot_id
    make, options, message = BAD_INPUTS[case]
    with pytest.raises(DataValidationError, match=message):
        store.write("user_spend", make(), **options)
    assert store.load_table(spend_view.table).current_snapshot().snapshot_id == before
    assert content(store, spend_view.table) == [(9, ts(1), 9.0)]


def test_bad_chunk_late_in_a_reader_commits_nothing(
    store: Any, spend_view: FeatureView, monkeypatch: pytest.MonkeyPatch
) -> None:
    from featurestore.writes import writer as writer_module

    monkeypatch.setattr(writer_module, "CHUNK_ROWS", 2)
    good = rows((1, ts(1), 1.0), (2, ts(1), 2.0))
    bad = pa.table(
        {
            "user_id": pa.array([None, 3], pa.int64()),
            "event_timestamp": [ts(1)] * 2,
            "spend": [1.0, 2.0],
        }
    )
    reader = pa.RecordBatchReader.from_batches(good.schema, [*good.to_batches(), *bad.to_batches()])
    with pytest.raises(DataValidationError, match="NULL"):
        store.write("user_spend", reader)
    assert store.load_table(spend_view.table).current_snapshot() is None


def test_safe_casts_and_time_zones(store: Any, spend_view: FeatureView) -> None:
    frame = pd.DataFrame(
        {
            "user_id": pd.array([1, 2], dtype="int32"),
            "event_timestamp": [
                pd.Timestamp("2024-01-01 01:00", tz="Europe/Paris"),
                pd.Timestamp("2024-01-02 00:00"),
            ],
            "spend": pd.array([3, 4], dtype="int64"),
        }
    )
    store.write("user_spend", frame)
    assert content(store, spend_view.table) == [(1, ts(1), 3.0), (2, ts(2), 4.0)]


def test_whole_decimal_keys_and_date_timestamps_cast_safely(
    store: Any, spend_view: FeatureView
) -> None:
    # DuckDB's SUM(BIGINT) is a DECIMAL(38,0) and a CSV date column is date32: both have an
    # exact value in the table's type (the decimal only when it fits, which is checked).
    store.write("user_spend", rows((9, ts(3), 9.0)))  # creates the table: int64 keys
    data = pa.table(
        {
            "user_id": pa.array([1, 2], pa.decimal128(38, 0)),
            "event_timestamp": pa.array([ts(1).date(), ts(2).date()], pa.date32()),
            "spend": [3.0, 4.0],
        }
    )
    store.write("user_spend", data)
    assert content(store, spend_view.table) == [(1, ts(1), 3.0), (2, ts(2), 4.0), (9, ts(3), 9.0)]
    too_big = data.set_column(0, "user_id", pa.array([1, 10**20], pa.decimal128(38, 0)))
    with pytest.raises(DataValidationError, match="Column 'user_id': a value does not fit int64"):
        store.write("user_spend", too_big)


def test_field_mapping_renames_source_columns(store: Any, feature_ns: str) -> None:
    view = FeatureView(
        name="mapped",
        entities=["user"],
        table=f"{feature_ns}.mapped",
        features=[Feature(name="spend", dtype="float64")],
        field_mapping={"amount": "spend", "ts": "event_timestamp"},
    )
    store.apply([Entity(name="user", join_keys=["user_id"]), view])
    data = pa.table({"user_id": [1], "ts": [datetime(2024, 1, 1)], "amount": [2.0]})
    store.write("mapped", data)
    assert content(store, view.table) == [(1, ts(1), 2.0)]


def _first_view(store: Any, feature_ns: str) -> FeatureView:
    view = FeatureView(
        name="first",
        entities=["user"],
        table=f"{feature_ns}.first",
        features=[Feature(name="spend", dtype="float64")],
    )
    store.apply([Entity(name="user", join_keys=["user_id"]), view])
    return view


def test_a_failed_first_write_creates_no_table(store: Any, feature_ns: str) -> None:
    # The first write takes the key types from the data: a write that fails must not create
    # the table (with string keys here) and so fix the wrong key type for good.
    view = _first_view(store, feature_ns)
    bad = pa.table({"user_id": ["1"], "event_timestamp": [ts(1)], "spend": ["x"]})
    with pytest.raises(DataValidationError, match="'spend'"):
        store.write("first", bad)
    assert not store.catalog.table_exists(view.table)
    store.write("first", rows((1, ts(1), 1.0)))
    assert content(store, view.table) == [(1, ts(1), 1.0)]


KEY_COLUMNS = {
    "missing": (None, "'user_id': missing"),
    "all NULL": (pa.array([None], pa.null()), "'user_id': all NULL"),
    "uint64": (pa.array([1], pa.uint64()), "'user_id': type uint64, not a join key type"),
    "list": (pa.array([[1]], pa.list_(pa.int64())), "type list<item: int64>, not a join key"),
}


@pytest.mark.parametrize("case", list(KEY_COLUMNS))
def test_a_first_write_without_a_usable_key_type_says_why(
    store: Any, feature_ns: str, case: str
) -> None:
    view = _first_view(store, feature_ns)
    column, message = KEY_COLUMNS[case]
    data = pa.table({"event_timestamp": [ts(1)], "spend": [1.0]})
    if column is not None:
        data = data.add_column(0, "user_id", column)
    with pytest.raises(DataValidationError, match=re.escape(message)):
        store.write("first", data)
    assert not store.catalog.table_exists(view.table)


def test_pandas_duplicate_columns_are_named(store: Any, spend_view: FeatureView) -> None:
    frame = pd.DataFrame(
        [[1, ts(1), 1.0, 2.0]], columns=["user_id", "event_timestamp", "spend", "spend"]
    )
    with pytest.raises(DataValidationError, match=r"duplicated columns \['spend'\]"):
        store.write("user_spend", frame)


def test_range_bounds_below_the_microsecond_are_refused(
    store: Any, spend_view: FeatureView
) -> None:
    start = pd.Timestamp("2024-01-01T00:00:00.000000500", tz="UTC")
    with pytest.raises(DataValidationError, match=r"start .* has nanoseconds"):
        store.write("user_spend", rows(), mode="replace_range", start=start, end=ts(2))


def test_a_failed_write_adds_no_columns(store: Any, spend_view: FeatureView) -> None:
    store.write("user_spend", rows((1, ts(1), 1.0)))
    table = store.load_table(spend_view.table)
    wider = spend_view.model_copy(
        update={"features": [*spend_view.features, Feature(name="visits", dtype="int64")]}
    )
    bad = rows((2, ts(1), 2.0)).append_column("visits", pa.array(["many"]))
    with pytest.raises(DataValidationError, match="'visits'"):
        store.write(wider, bad)
    after = store.load_table(spend_view.table)
    assert after.schema() == table.schema()
    assert after.current_snapshot().snapshot_id == table.current_snapshot().snapshot_id


def test_a_nan_float_key_is_rejected_like_null(store: Any, feature_ns: str) -> None:
    view = FeatureView(
        name="by_score",
        entities=["score"],
        table=f"{feature_ns}.by_score",
        features=[Feature(name="spend", dtype="float64")],
    )
    store.apply([Entity(name="score", join_keys=["k"], key_dtypes={"k": "float64"}), view])
    data = pa.table({"k": [1.0, float("nan")], "event_timestamp": [ts(1)] * 2, "spend": [1.0] * 2})
    with pytest.raises(DataValidationError, match=r"'k': 1 NULL or NaN.*'row': 1"):
        store.write("by_score", data)
    assert not store.catalog.table_exists(view.table)
