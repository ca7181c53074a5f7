"""Inputs pyarrow cannot convert, and row numbers of invalid rows in streamed input."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from write_support import content, rows, ts

import featurestore.writes.writer as writer_module
from featurestore.errors import DataValidationError

if TYPE_CHECKING:
    from featurestore import FeatureView


def _csv(path: Path, good_rows: int, bad_value: str) -> Path:
    lines = ["user_id,event_timestamp,spend"]
    lines += [f"{i},2024-01-0{1 + i % 3}T00:00:00,1.5" for i in range(good_rows)]
    lines.append(f"{bad_value},2024-01-01T00:00:00,1.5")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_mixed_type_pandas_column_names_the_column(store: Any, spend_view: FeatureView) -> None:
    frame = pd.DataFrame({"user_id": [1, "a"], "event_timestamp": [ts(1)] * 2, "spend": [1.0, 2]})
    with pytest.raises(DataValidationError, match=r"Column 'user_id'.*\['int', 'str'\]"):
        store.write("user_spend", frame)


def test_csv_bad_value_past_the_first_block(
    store: Any, spend_view: FeatureView, tmp_path: Path
) -> None:
    store.write("user_spend", rows((1, ts(1), 1.0)))
    before = content(store, spend_view.table)
    path = _csv(tmp_path / "late.csv", 2_000, "x")
    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=4_096))
    with pytest.raises(DataValidationError, match=r"column 'user_id'.*invalid value 'x'"):
        store.write("user_spend", reader)
    assert content(store, spend_view.table) == before


def test_upsert_of_a_stream_with_a_bad_value(
    store: Any, spend_view: FeatureView, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "late.csv", 2_000, "y")
    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=4_096))
    with pytest.raises(DataValidationError, match="invalid value 'y'"):
        store.write("user_spend", reader, mode="upsert")


def test_streamed_chunks_report_input_row_numbers(
    store: Any, spend_view: FeatureView, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "CHUNK_ROWS", 2)
    good = rows((2, ts(5), 1.0), (3, ts(5), 2.0))
    bad = pa.table(
        {
            "user_id": pa.array([3, None], pa.int64()),
            "event_timestamp": good["event_timestamp"],
            "spend": good["spend"],
        }
    )
    batches = [*good.to_batches(), *good.to_batches(), *bad.to_batches()]
    reader = pa.RecordBatchReader.from_batches(good.schema, batches)
    with pytest.raises(DataValidationError, match=r"First offending rows: \[\{'row': 5,"):
        store.write("user_spend", reader)
    assert content(store, spend_view.table) == []


def test_replace_range_chunks_report_input_row_numbers(
    store: Any, spend_view: FeatureView, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "CHUNK_ROWS", 3)
    data = rows(*[(i, ts(1), 1.0) for i in range(7)], (9, ts(3), 1.0))
    reader = pa.RecordBatchReader.from_batches(data.schema, data.to_batches(max_chunksize=2))
    with pytest.raises(DataValidationError, match=r"\[\{'row': 7, 'user_id': 9"):
        store.write("user_spend", reader, mode="replace_range", start=ts(1), end=ts(2))
