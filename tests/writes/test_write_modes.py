"""append, upsert and replace_range: results, idempotence, snapshot summaries, chunking."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from write_support import content, rows, ts

from featurestore import DataValidationError, FeatureView
from featurestore.writes import writer as writer_module


def test_append_accepts_pandas_polars_and_readers(store: Any, spend_view: FeatureView) -> None:
    frame = pd.DataFrame(
        {"user_id": [1], "event_timestamp": [pd.Timestamp("2024-01-01")], "spend": [1.5]}
    )
    store.write("user_spend", frame)
    store.write("user_spend", pl.from_arrow(rows((2, ts(2), 2.5))))
    reader = pa.RecordBatchReader.from_batches(
        rows((3, ts(3), 3.5)).schema, rows((3, ts(3), 3.5)).to_batches()
    )
    result = store.write(spend_view, reader)
    assert result.rows_written == 1
    assert result.rows_deleted is None
    assert content(store, spend_view.table) == [(1, ts(1), 1.5), (2, ts(2), 2.5), (3, ts(3), 3.5)]


def test_append_twice_keeps_both(store: Any, spend_view: FeatureView) -> None:
    store.write("user_spend", rows((1, ts(1), 1.0)))
    store.write("user_spend", rows((1, ts(1), 1.0)))
    assert len(content(store, spend_view.table)) == 2


def test_empty_append_commits_nothing(store: Any, spend_view: FeatureView) -> None:
    store.write("user_spend", rows((1, ts(1), 1.0)))
    before = store.load_table(spend_view.table).current_snapshot().snapshot_id
    result = store.write("user_spend", rows())
    assert result.snapshot_id is None
    assert store.load_table(spend_view.table).current_snapshot().snapshot_id == before


def test_upsert_replaces_same_key_and_timestamp(store: Any, spend_view: FeatureView) -> None:
    store.write("user_spend", rows((1, ts(1), 1.0), (1, ts(2), 2.0), (2, ts(1), 3.0)))
    result = store.write("user_spend", rows((1, ts(2), 20.0), (2, ts(2), 30.0)), mode="upsert")
    assert (result.rows_written, result.rows_deleted) == (2, 1)
    assert content(store, spend_view.table) == [
        (1, ts(1), 1.0),
        (1, ts(2), 20.0),
        (2, ts(1), 3.0),
        (2, ts(2), 30.0),
    ]
    again = store.write("user_spend", rows((1, ts(2), 20.0), (2, ts(2), 30.0)), mode="upsert")
    assert again.rows_deleted == 2
    assert len(content(store, spend_view.table)) == 4
    table = store.load_table(spend_view.table)
    assert table.current_snapshot().summary["featurestore.mode"] == "upsert"


def test_upsert_with_duplicate_input_rows_is_an_error(store: Any, spend_view: FeatureView) -> None:
    store.write("user_spend", rows((1, ts(1), 1.0)))
    before = store.load_table(spend_view.table).current_snapshot().snapshot_id
    with pytest.raises(DataValidationError, match="more than once"):
        store.write("user_spend", rows((1, ts(1), 5.0), (1, ts(1), 6.0)), mode="upsert")
    assert store.load_table(spend_view.table).current_snapshot().snapshot_id == before


def test_replace_range_is_idempotent_and_one_snapshot(store: Any, spend_view: FeatureView) -> None:
    store.write("user_spend", rows((1, ts(1), 1.0), (1, ts(2), 2.0), (1, ts(3), 3.0)))
    day2 = rows((1, ts(2, 5), 20.0), (2, ts(2, 6), 21.0))
    for _ in range(2):
        before = len(store.load_table(spend_view.table).snapshots())
        result = store.write("user_spend", day2, mode="replace_range", start=ts(2), end=ts(3))
        assert len(store.load_table(spend_view.table).snapshots()) == before + 1
        assert result.rows_written == 2
        assert content(store, spend_view.table) == [
            (1, ts(1), 1.0),
            (1, ts(2, 5), 20.0),
            (1, ts(3), 3.0),
            (2, ts(2, 6), 21.0),
        ]
    assert result.rows_deleted == 2
    summary = store.load_table(spend_view.table).current_snapshot().summary
    assert summary["featurestore.mode"] == "replace_range"


def test_replace_range_with_empty_input_clears_range(store: Any, spend_view: FeatureView) -> None:
    store.write("user_spend", rows((1, ts(1), 1.0), (1, ts(2), 2.0)))
    result = store.write("user_spend", rows(), mode="replace_range", start=ts(2), end=ts(3))
    assert (result.rows_written, result.rows_deleted) == (0, 1)
    assert content(store, spend_view.table) == [(1, ts(1), 1.0)]


def test_replace_range_naive_bounds_are_utc(store: Any, spend_view: FeatureView) -> None:
    store.write("user_spend", rows((1, ts(2), 2.0)))
    store.write(
        "user_spend",
        rows((1, ts(2), 9.0)),
        mode="replace_range",
        start=datetime(2024, 1, 2),
        end=datetime(2024, 1, 3),
    )
    assert content(store, spend_view.table) == [(1, ts(2), 9.0)]


def test_source_snapshots_recorded(store: Any, spend_view: FeatureView) -> None:
    store._writer.write("user_spend", rows((1, ts(1), 1.0)), source_snapshots={"raw.tx": 42})
    summary = store.load_table(spend_view.table).current_snapshot().summary
    assert summary["featurestore.source-snapshots"] == '{"raw.tx": 42}'


def test_large_reader_is_written_in_chunks_in_one_commit(
    store: Any, spend_view: FeatureView, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "CHUNK_ROWS", 7)
    data = rows(*((i, ts(1 + i % 3), float(i)) for i in range(50)))
    reader = pa.RecordBatchReader.from_batches(data.schema, data.to_batches(max_chunksize=9))
    seen: list[int] = []
    result = store._writer.write("user_spend", reader, progress=seen.append)
    assert seen == [7, 14, 21, 28, 35, 42, 49, 50]
    assert result.rows_written == 50
    table = store.load_table(spend_view.table)
    assert len(table.snapshots()) == 1
    assert len(content(store, spend_view.table)) == 50
