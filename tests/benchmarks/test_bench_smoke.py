"""The benchmark harness end to end on a tiny size, so it cannot rot.

No timing assertions: only that every engine ran, agreed row for row with the DuckDB
reference, and that the JSON report and chart were written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(monkeypatch: pytest.MonkeyPatch, out: Path, *args: str) -> dict[str, Any]:
    monkeypatch.syspath_prepend(str(REPO))
    from benchmarks.run import main

    code = main(["--sizes", "tiny", "--out", str(out), "--no-feast", *args])
    assert code == 0
    reports = sorted(out.glob("bench-*.json"))
    assert len(reports) == 1
    assert reports[0].with_suffix(".png").stat().st_size > 0
    result: dict[str, Any] = json.loads(reports[0].read_text())
    return result


def _check_size(size: dict[str, Any], engines: list[str]) -> None:
    assert sorted(size["engines"]) == sorted(["duckdb", *engines])
    for name in engines:
        run = size["engines"][name]
        assert run["ok"], run["error"]
        assert run["rows"] == size["size"]["entity_rows"]
        agreement = size["agreement"][name]
        assert agreement["agrees"], agreement
        assert agreement["order_kept"], "featurestore must keep the entity order"
    assert any("--no-feast" in note for note in size["notes"])
    for name, run in size["engines"].items():
        assert run["first_call_s"] is not None, name  # every engine made its warm-up call


@pytest.mark.slow
def test_harness_on_embedded_catalog(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result = _run(monkeypatch, tmp_path / "results", "--scaling", "--scaling-fraction", "0.001")
    (size,) = result["sizes"]
    _check_size(size, ["ours"])
    assert size["engines"]["ours"]["details"]["catalog"] == "sql"
    assert size["ratios"]["ours/duckdb time"] is not None
    runs = {run["label"]: run for run in result["scaling"]["runs"]}
    assert sorted(runs) == ["10M", "10M narrow", "10M ttl=7d", "1M", "30M"]
    for run in runs.values():
        assert run["agreement"]["agrees"], run
    full = runs["10M"]
    assert full["files_scanned"] == full["files_total"]
    for label in ("10M narrow", "10M ttl=7d"):
        assert runs[label]["rows_scanned"] < full["rows_scanned"]
        assert runs[label]["files_scanned"] < full["files_scanned"]


@pytest.mark.rest
def test_harness_on_both_catalogs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, rest_server: Any
) -> None:
    uri = rest_server.uri
    result = _run(
        monkeypatch,
        tmp_path / "results",
        "--catalog",
        "sqlite,rest",
        "--rest-uri",
        uri,
        "--repeat",
        "2",
    )
    (size,) = result["sizes"]
    _check_size(size, ["ours", "ours[rest]"])
    assert size["engines"]["ours[rest]"]["details"]["catalog"] == "rest"
    for engine in size["engines"].values():  # two rounds: two join times each, the best kept
        assert len(engine["details"]["join_s_all"]) == 2
        assert engine["join_s"] == min(engine["details"]["join_s_all"])


def test_compare_reports_dropped_duplicated_and_different_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(REPO))
    import pyarrow as pa
    from benchmarks.compare import compare

    reference = pa.table({"entity_row": [0, 1, 2, 3], "f1": [1.0, None, 3.0, 4.0]})
    other = pa.table({"entity_row": [3, 1, 1, 0], "f1": [4.5, None, 2.0, 1.0]})
    agreement = compare(reference, other, ["f1"])
    assert (agreement.missing_rows, agreement.extra_rows) == (1, 1)
    assert agreement.mismatches == {"f1": 1}
    assert not agreement.agrees
    assert not agreement.order_kept
    assert (
        agreement.summary() == "DISAGREES: dropped 1 rows; duplicated 1 rows; values differ: f1=1"
    )


def test_tie_free_study_uses_the_tie_free_plan_and_agrees(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(REPO))
    from benchmarks.tie_free import main

    # exit code 0: both plans agree with the reference and the proof held for the tie-free one
    assert main(["--sizes", "tiny", "--repeat", "1", "--data-cache", str(tmp_path)]) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.split()[:2] == ["tiny", "tie-free"]
    assert line.endswith("agrees")
