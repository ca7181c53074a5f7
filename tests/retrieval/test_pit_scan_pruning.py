"""Scan behaviour behind the join: key-bound file pruning, scan statistics, expired commits."""

from __future__ import annotations

import datetime as dt
import re

import pyarrow as pa
import pytest
from pit_support import TS, assert_matches_reference, at, make_table, ref_view, view_def

from featurestore.errors import SnapshotNotFoundError
from featurestore.retrieval.engine import KEY_FILTER_LIMIT

SCHEMA = pa.schema([("user_id", pa.int64()), ("event_timestamp", TS), ("x", pa.int64())])
INGESTED = SCHEMA.append(pa.field("_ingested_at", TS))


def _rows(keys, day, x, *, ingested=False):
    rows = [{"user_id": k, "event_timestamp": at(day), "x": x + k} for k in keys]
    return [{**r, "_ingested_at": at(day, 1)} for r in rows] if ingested else rows


def _view(store, feature_ns, batches, *, schema=SCHEMA):
    table = f"{feature_ns}.v"
    rows = make_table(store, table, schema, batches)
    entity, view = view_def("v", table, ["user_id"], {"x": pa.int64()})
    store.apply([entity, view])
    ingested = "_ingested_at" if "_ingested_at" in schema.names else None
    return table, ref_view(view, ["user_id"], rows, ingested=ingested)


def _entities(keys, when):
    return pa.table(
        {"user_id": list(keys), "event_timestamp": [when] * len(keys)},
        schema=pa.schema([("user_id", pa.int64()), ("event_timestamp", TS)]),
    )


@pytest.mark.parametrize("mode", ["event", "known"])
@pytest.mark.parametrize("n_keys", [3, KEY_FILTER_LIMIT + 8])
def test_files_whose_key_bounds_miss_every_key_are_not_read(store, feature_ns, n_keys, mode):
    low, high = range(100), range(1000, 1100)  # one data file each (one append each)
    _, ref = _view(store, feature_ns, [_rows(low, 1, 0), _rows(high, 2, 0)])
    later = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)  # after the commits too (known mode)
    ents = _entities([*range(1000, 1000 + n_keys), 5000], later)  # 5000: no such key
    result = assert_matches_reference(store, ents, ["v:x"], [ref], point_in_time=mode)
    few = n_keys <= KEY_FILTER_LIMIT  # few keys also go into the row filter (In)
    # event mode: DuckDB reads the local files itself and does not count rows for us;
    # known mode: the Python reader (commit times) counts the rows the row filter let through
    assert result.scan_stats["v"] == {
        "files_in_range": 1 if few else 2,  # PyIceberg prunes on In itself
        "files_planned": 1,
        "rows_planned": 100,
        "rows_read": None if mode == "event" else n_keys if few else 100,
    }
    assert result.to_arrow()["x"].to_pylist()[:2] == [1000, 1001]


def test_scan_stats_count_the_time_range_pruning(store, feature_ns):
    _, ref = _view(store, feature_ns, [_rows(range(50), 1, 0), _rows(range(50), 5, 100)])
    ents = _entities(range(50), at(2))
    result = assert_matches_reference(store, ents, ["v:x"], [ref], point_in_time="known")
    assert result.scan_stats["v"]["files_in_range"] == 1  # day 5's file is after max(t)
    assert result.scan_stats["v"]["rows_read"] == 50


def _expire_first(store, table_name):
    table = store.load_table(table_name)
    first = table.history()[0].snapshot_id
    path = next(t.file.file_path for t in table.scan(snapshot_id=first).plan_files())
    table.maintenance.expire_snapshots().by_id(first).commit()
    return first, path


def test_known_at_names_the_expired_snapshot_a_needed_commit_time_came_from(store, feature_ns):
    table, ref = _view(store, feature_ns, [_rows([1], 1, 0), _rows([2], 2, 0)])
    first, path = _expire_first(store, table)
    ents = _entities([1, 2], at(3))
    with pytest.raises(SnapshotNotFoundError) as info:
        store.get_historical_features(ents, ["v:x"], point_in_time="known")
    message = str(info.value)
    for part in (repr(table), repr(path), str(first), "point_in_time='event'"):
        assert part in message, f"{part} not in {message}"
    assert re.search(r"expired", message)
    assert_matches_reference(store, ents, ["v:x"], [ref])  # event mode never needs it


def test_known_at_does_not_need_an_expired_commit_time_when_rows_carry_ingested_at(
    store, feature_ns
):
    batches = [_rows([1], 1, 0, ingested=True), _rows([2], 2, 0, ingested=True)]
    table, ref = _view(store, feature_ns, batches, schema=INGESTED)
    _expire_first(store, table)
    ents = _entities([1, 2, 1], at(3))
    result = assert_matches_reference(store, ents, ["v:x"], [ref], point_in_time="known")
    assert result.to_arrow()["x"].to_pylist() == [1, 2, 1]


@pytest.mark.parametrize("expired", [0, 1])
def test_as_of_a_time_whose_snapshot_was_expired_is_an_error_not_older_data(
    store, feature_ns, expired
):
    # Expiry also drops the snapshot-log entry: the log alone answers a time in the expired
    # snapshot's window with the one before it (or "no data yet" for the first).
    table, _ = _view(store, feature_ns, [_rows([1], day, day) for day in (1, 2, 3)])
    snapshots = store.load_table(table).history()
    when = [dt.datetime.fromtimestamp(e.timestamp_ms / 1000, dt.UTC) for e in snapshots]
    ents = _entities([1], at(9))
    got = store.get_historical_features(ents, ["v:x"], as_of=when[expired])
    assert got.to_arrow()["x"].to_pylist() == [expired + 2]
    store.load_table(table).maintenance.expire_snapshots().by_id(
        snapshots[expired].snapshot_id
    ).commit()
    with pytest.raises(SnapshotNotFoundError, match="its snapshot was expired"):
        store.get_historical_features(ents, ["v:x"], as_of=when[expired])
    last = store.get_historical_features(ents, ["v:x"], as_of=when[2])
    assert last.to_arrow()["x"].to_pylist() == [4]


def test_planning_keeps_the_whole_filter_as_every_residual(store, feature_ns):
    from pyiceberg.expressions import GreaterThanOrEqual
    from pyiceberg.table import ManifestGroupPlanner

    from featurestore.retrieval.planning import _planner_class

    # the override must replace PyIceberg's per-file residual reduction (pinned < 0.13)
    assert "_build_residual_evaluator" in vars(ManifestGroupPlanner)
    table, _ = _view(store, feature_ns, [_rows([1, 2], 1, 0), _rows([1], 2, 10)])
    loaded = store.load_table(table)
    expr = GreaterThanOrEqual("user_id", 2)
    planner = _planner_class()(loaded.metadata, loaded.io, row_filter=expr, case_sensitive=True)
    tasks = list(planner.plan_files(loaded.current_snapshot().manifests(loaded.io)))
    assert len(tasks) == 1  # the file of day 2 holds only key 1: its statistics prune it
    assert [task.residual for task in tasks] == [expr]
