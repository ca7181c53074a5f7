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
    monkeypatch.chdir(tmp_path)
    store = featurestore.connect()
    store.catalog.create_namespace("f")
    schema = pa.schema([("user_id", pa.int64()), ("event_timestamp", TS), ("x", pa.int64())])
    make_table(store, "f.t", schema, [[{"user_id": 1, "event_timestamp": at(1), "x": 4}]])
    store.apply(list(view_def("v", "f.t", ["user_id"], {"x": pa.int64()})))
    pq.write_table(
        pa.table({"user_id": [1, 2], "event_timestamp": pa.array([at(2)] * 2, TS)}),
        tmp_path / "e.parquet",
    )
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(
        cli, ["retrieve", "--entities", "e.parquet", "-f", "v:x", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert summary["rows"] == 2
    assert pq.read_table(out).column("x").to_pylist() == [4, None]
