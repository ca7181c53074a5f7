"""``featurestore retrieve`` end to end on the embedded catalog."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner
from pit_support import TS, at, make_table, view_def

import featurestore
from featurestore.cli.main import cli


def test_retrieve_writes_parquet(tmp_path, monkeypatch):
    _one_view_store(tmp_path, monkeypatch, keys=[1, 2])
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(
        cli, ["retrieve", "--entities", "e.parquet", "-f", "v:x", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert summary["rows"] == 2
    assert pq.read_table(out).column("x").to_pylist() == [4, None]


def _run_main(args, capsys):
    from featurestore.cli.main import main

    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr()


def _one_view_store(tmp_path, monkeypatch, *, keys=(1,)):
    """A store in ``tmp_path`` (the working folder) with view ``v`` (key 1: x = 4 on day 1)
    and ``e.parquet``: one entity row per key on day 2."""
    monkeypatch.chdir(tmp_path)
    store = featurestore.connect()
    store.catalog.create_namespace("f")
    schema = pa.schema([("user_id", pa.int64()), ("event_timestamp", TS), ("x", pa.int64())])
    make_table(store, "f.t", schema, [[{"user_id": 1, "event_timestamp": at(1), "x": 4}]])
    store.apply(list(view_def("v", "f.t", ["user_id"], {"x": pa.int64()})))
    entities = {"user_id": list(keys), "event_timestamp": pa.array([at(2)] * len(keys), TS)}
    pq.write_table(pa.table(entities), "e.parquet")
    return store


def test_retrieve_unreadable_entities_is_one_line(tmp_path, monkeypatch, capsys):
    _one_view_store(tmp_path, monkeypatch)
    (tmp_path / "bad.parquet").write_bytes(b"not a parquet file")
    (tmp_path / "bad.csv").write_text("user_id,event_timestamp\n1,2024-01-01\n2\n")
    for name in ("bad.parquet", "bad.csv"):
        code, out = _run_main(
            ["retrieve", "--entities", name, "-f", "v:x", "--out", "o.parquet"], capsys
        )
        assert code == 1
        assert out.err.startswith(f"Error: Cannot read --entities '{name}': ")
        assert len(out.err.strip().splitlines()) == 1
    assert not (tmp_path / "o.parquet").exists()


def test_retrieve_to_a_missing_directory_is_one_line(tmp_path, monkeypatch, capsys):
    _one_view_store(tmp_path, monkeypatch)
    out_path = tmp_path / "missing" / "out.parquet"
    code, out = _run_main(
        ["retrieve", "--entities", "e.parquet", "-f", "v:x", "--out", str(out_path)], capsys
    )
    assert code == 1
    assert out.err.startswith(f"Error: Could not open file '{out_path}'")
    assert "does not exist" in out.err
    assert len(out.err.strip().splitlines()) == 1


def test_retrieve_error_is_the_only_stderr_line(tmp_path, monkeypatch, capsys):
    _one_view_store(tmp_path, monkeypatch)
    code, out = _run_main(
        ["retrieve", "--entities", "e.parquet", "-f", "v:nope", "--out", "o.parquet"], capsys
    )
    assert code == 1
    assert out.err.startswith("Error: ")
    assert len(out.err.strip().splitlines()) == 1
    code, out = _run_main(
        ["retrieve", "--entities", "e.parquet", "-f", "v:x", "--out", "o.parquet"], capsys
    )
    assert code == 0
    assert out.err == ""  # no progress bar when stderr is not a terminal
