"""``featurestore write`` (Parquet, CSV) and ``featurestore materialize`` end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq
from write_support import content, rows, ts

from featurestore.cli.main import main

if TYPE_CHECKING:
    import pytest

    from featurestore import FeatureView


def _cli(store: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any, *args: str) -> tuple[int, Any]:
    monkeypatch.setenv("FEATURESTORE_NAMESPACE", store.config.namespace)
    if store.config.is_embedded:
        monkeypatch.setenv("FEATURESTORE_HOME", str(store.config.home))
    else:
        for key, value in store.config.catalog.items():
            monkeypatch.setenv(f"FEATURESTORE_CATALOG__{key.upper()}", value)
    try:
        main([*args, "--json"])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, (json.loads(out.out) if code == 0 else out.err)


def test_cli_write_parquet_and_csv(
    store: Any,
    spend_view: FeatureView,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    pq.write_table(rows((1, ts(1), 1.0), (2, ts(2), 2.0)), tmp_path / "a.parquet")
    code, out = _cli(store, monkeypatch, capsys, "write", "user_spend", str(tmp_path / "a.parquet"))
    assert code == 0, out
    assert out["rows_written"] == 2
    assert out["mode"] == "append"
    (tmp_path / "b.csv").write_text("user_id,event_timestamp,spend\n1,2024-01-02T05:00:00,7.5\n")
    code, out = _cli(
        store,
        monkeypatch,
        capsys,
        "write",
        "user_spend",
        str(tmp_path / "b.csv"),
        "--mode",
        "replace_range",
        "--start",
        "2024-01-02",
        "--end",
        "2024-01-03",
    )
    assert code == 0, out
    assert (out["rows_written"], out["rows_deleted"]) == (1, 1)
    assert content(store, spend_view.table) == [(1, ts(1), 1.0), (1, ts(2, 5), 7.5)]


def test_cli_write_bad_file_is_one_line_error(
    store: Any,
    spend_view: FeatureView,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    (tmp_path / "bad.csv").write_text("user_id,event_timestamp\n1,2024-01-02T05:00:00\n")
    code, err = _cli(store, monkeypatch, capsys, "write", "user_spend", str(tmp_path / "bad.csv"))
    assert code == 1
    assert "missing columns ['spend']" in err


def test_cli_materialize(
    store: Any,
    spend_view: FeatureView,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    sql = tmp_path / "f.sql"
    sql.write_text(
        "SELECT 3::BIGINT AS user_id, $start::TIMESTAMPTZ AS event_timestamp, 1.25::DOUBLE AS spend"
    )
    code, out = _cli(
        store,
        monkeypatch,
        capsys,
        "materialize",
        "user_spend",
        "--sql",
        str(sql),
        "--start",
        "2024-01-04",
        "--end",
        "2024-01-05",
    )
    assert code == 0, out
    assert out["rows_written"] == 1
    assert content(store, spend_view.table) == [(3, ts(4), 1.25)]


def test_cli_write_csv_with_a_late_bad_value_is_one_line(
    store: Any,
    spend_view: FeatureView,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    lines = ["user_id,event_timestamp,spend"]
    lines += [f"{i},2024-01-01T00:00:00,1.5" for i in range(200_000)]
    (tmp_path / "late.csv").write_text("\n".join([*lines, "x,2024-01-01T00:00:00,1.5\n"]))
    code, err = _cli(store, monkeypatch, capsys, "write", "user_spend", str(tmp_path / "late.csv"))
    assert code == 1
    assert err.startswith("Error: Cannot read the input data in column 'user_id'")
    assert len(err.strip().splitlines()) == 1
    assert not store.catalog.table_exists(spend_view.table)  # failed before creating it


def test_cli_write_unreadable_parquet(
    store: Any,
    spend_view: FeatureView,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    code, err = _cli(
        store, monkeypatch, capsys, "write", "user_spend", str(tmp_path / "bad.parquet")
    )
    assert code == 1
    assert err.startswith("Error: Cannot read ")
    assert "bad.parquet" in err
    assert len(err.strip().splitlines()) == 1
