"""The DuckDB sessions retrieval and materialize run in: UTC, closed on another thread."""

from __future__ import annotations

import threading

import duckdb
import pyarrow as pa
import pytest

from featurestore._internal.duckdb_sql import CLOSER_THREAD, duckdb_session


def _wait_for_closers() -> None:
    for thread in threading.enumerate():
        if thread.name == CLOSER_THREAD:
            thread.join(timeout=30)


def test_a_session_is_closed_after_its_block_and_its_results_survive() -> None:
    with duckdb_session() as con:
        con.register("t", pa.table({"x": list(range(100_000))}))
        result = con.sql("SELECT x * 2 AS y FROM t ORDER BY x").to_arrow_table()
        zone = con.execute("SELECT current_setting('TimeZone')").fetchone()
    _wait_for_closers()
    assert zone == ("UTC",)
    with pytest.raises(duckdb.ConnectionException):
        con.execute("SELECT 1")
    assert result.num_rows == 100_000
    assert result["y"][-1].as_py() == 199_998  # the Arrow result owns its buffers


def test_a_session_is_closed_when_its_block_raises() -> None:
    with pytest.raises(ValueError, match="boom"), duckdb_session() as con:
        raise ValueError("boom")
    _wait_for_closers()
    with pytest.raises(duckdb.ConnectionException):
        con.execute("SELECT 1")
