"""DuckDB reading the data files itself must see what PyIceberg sees: columns by field ID.

Event-mode scans of local files are read by DuckDB (retrieval/native.py); these tables evolve
their schema between commits, so a name-based read would lose or mix values.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from pit_support import LATER, MODES, TS, UTC, assert_matches_reference, at, ref_view, view_def
from pyiceberg.types import LongType

from featurestore.errors import RetrievalError

KEYS = pa.schema([("user_id", pa.int64()), ("event_timestamp", TS)])


def _append(table, schema, rows):
    table.append(pa.Table.from_pylist(rows, schema=schema))
    commit = dt.datetime.fromtimestamp(table.current_snapshot().timestamp_ms / 1000, UTC)
    return [{**row, "_commit": commit} for row in rows]


def _apply(store, name, table, features):
    entity, view = view_def("v", f"{name}", ["user_id"], features)
    store.apply([entity, view])
    return view


def _ents(*pairs):
    return pa.table(
        {"user_id": [k for k, _ in pairs], "event_timestamp": [t for _, t in pairs]}, schema=KEYS
    )


def test_a_renamed_column_reads_its_older_files_by_field_id(store, feature_ns):
    name = f"{feature_ns}.renamed"
    old = KEYS.append(pa.field("x", pa.int64()))
    table = store.catalog.create_table(name, schema=old)
    rows = _append(table, old, [{"user_id": 1, "event_timestamp": at(1), "x": 10}])
    with table.update_schema() as update:
        update.rename_column("x", "y")
    new = KEYS.append(pa.field("y", pa.int64()))
    rows = [{"user_id": r["user_id"], "event_timestamp": r["event_timestamp"], "y": r["x"],
             "_commit": r["_commit"]} for r in rows]  # fmt: skip
    rows += _append(table, new, [{"user_id": 2, "event_timestamp": at(2), "y": 20}])
    view = _apply(store, name, table, {"y": pa.int64()})
    ref = ref_view(view, ["user_id"], rows)
    result = assert_matches_reference(store, _ents((1, at(3)), (2, at(3))), ["v:y"], [ref])
    assert result.to_arrow()["y"].to_pylist() == [10, 20]
    assert result.scan_stats["v"]["rows_read"] is None  # DuckDB read the files


def test_a_promoted_column_reads_old_int_files_as_long(store, feature_ns):
    name = f"{feature_ns}.promoted"
    old = KEYS.append(pa.field("x", pa.int32()))
    table = store.catalog.create_table(name, schema=old)
    rows = _append(table, old, [{"user_id": 1, "event_timestamp": at(1), "x": 7}])
    with table.update_schema() as update:
        update.update_column("x", field_type=LongType())
    new = KEYS.append(pa.field("x", pa.int64()))
    rows += _append(table, new, [{"user_id": 2, "event_timestamp": at(2), "x": 2**40}])
    view = _apply(store, name, table, {"x": pa.int64()})
    ref = ref_view(view, ["user_id"], rows)
    result = assert_matches_reference(store, _ents((1, at(3)), (2, at(3))), ["v:x"], [ref])
    assert result.to_arrow()["x"].type == pa.int64()
    assert result.to_arrow()["x"].to_pylist() == [7, 2**40]
    assert result.scan_stats["v"]["rows_read"] is None  # DuckDB read the files


def test_an_added_column_is_null_in_older_files_and_at_older_snapshots(store, feature_ns):
    name = f"{feature_ns}.added"
    old = KEYS.append(pa.field("x", pa.int64()))
    table = store.catalog.create_table(name, schema=old)
    rows = _append(table, old, [{"user_id": 1, "event_timestamp": at(1), "x": 1}])
    first = table.current_snapshot().snapshot_id
    with table.update_schema() as update:
        update.add_column("z", LongType())
    new = old.append(pa.field("z", pa.int64()))
    rows = [{**r, "z": None} for r in rows]
    rows += _append(table, new, [{"user_id": 2, "event_timestamp": at(2), "x": 2, "z": 5}])
    view = _apply(store, name, table, {"x": pa.int64(), "z": pa.int64()})
    ref = ref_view(view, ["user_id"], rows)
    ents = _ents((1, at(3)), (2, at(3)))
    now = assert_matches_reference(store, ents, ["v:x", "v:z"], [ref])
    assert now.to_arrow().select(["x", "z"]).to_pylist() == [
        {"x": 1, "z": None},
        {"x": 2, "z": 5},
    ]
    then = store.get_historical_features(ents, ["v:x", "v:z"], as_of=first)
    assert then.to_arrow().select(["x", "z"]).to_pylist() == [
        {"x": 1, "z": None},
        {"x": None, "z": None},
    ]


@pytest.mark.parametrize("mode", MODES)
def test_time_travel_filters_by_the_columns_the_snapshot_named(store, feature_ns, mode):
    # PyIceberg binds row filters to the current schema: after event_timestamp and other swap
    # names, "event_timestamp <= t" at the older snapshot would be checked against `other`,
    # whose values lie after t: the first file pruned by its statistics, user 3's row filtered.
    name = f"{feature_ns}.swapped"
    schema = KEYS.append(pa.field("other", TS)).append(pa.field("x", pa.int64()))
    table = store.catalog.create_table(name, schema=schema)
    after = dt.datetime(2200, 1, 1, tzinfo=UTC)
    rows = _append(
        table, schema, [{"user_id": 1, "event_timestamp": at(1), "other": after, "x": 10}]
    )
    rows += _append(table, schema, [
        {"user_id": 2, "event_timestamp": at(2), "other": at(3), "x": 20},
        {"user_id": 3, "event_timestamp": at(2), "other": after, "x": 30},
    ])  # fmt: skip
    first = table.current_snapshot().snapshot_id
    for old, new in (("event_timestamp", "tmp"), ("other", "event_timestamp"), ("tmp", "other")):
        with table.update_schema() as update:
            update.rename_column(old, new)
    view = _apply(store, name, table, {"x": pa.int64()})
    ents = _ents((1, LATER), (2, LATER), (3, LATER))
    ref = ref_view(view, ["user_id"], rows)
    result = assert_matches_reference(store, ents, ["v:x"], [ref], as_of=first, point_in_time=mode)
    assert result.to_arrow()["x"].to_pylist() == [10, 20, 30]


def test_time_travel_to_before_a_filter_column_existed_reads_it_as_null(store, feature_ns):
    # The key filter (few entity keys) names a column the first snapshot lacks: it cannot
    # bind there, so the scan reads unfiltered and the NULL keys match nothing.
    name = f"{feature_ns}.late_key"
    old = pa.schema([("event_timestamp", TS), ("x", pa.int64())])
    table = store.catalog.create_table(name, schema=old)
    _append(table, old, [{"event_timestamp": at(1), "x": 1}])
    first = table.current_snapshot().snapshot_id
    with table.update_schema() as update:
        update.add_column("user_id", LongType())
    _apply(store, name, table, {"x": pa.int64()})
    for mode in MODES:
        then = store.get_historical_features(
            _ents((1, LATER)), ["v:x"], as_of=first, point_in_time=mode
        )
        assert then.to_arrow()["x"].to_pylist() == [None]


@pytest.mark.parametrize("mode", MODES)
def test_a_current_read_uses_the_current_schema_without_a_write_since(store, feature_ns, mode):
    # A schema change commits no snapshot: the current snapshot still names the old schema.
    # Reading the current state resolves names in the current schema, as Iceberg does.
    name = f"{feature_ns}.renamed_only"
    old = KEYS.append(pa.field("x", pa.int64())).append(pa.field("z", pa.int64()))
    table = store.catalog.create_table(name, schema=old)
    rows = _append(table, old, [{"user_id": 1, "event_timestamp": at(1), "x": 10, "z": 5}])
    with table.update_schema() as update:
        update.rename_column("x", "y")
    with table.update_schema() as update:
        update.delete_column("z")
    with table.update_schema() as update:
        update.add_column("z", LongType())  # a new column under the old name: NULL in old files
    view = _apply(store, name, table, {"y": pa.int64(), "z": pa.int64()})
    rows = [{**r, "y": r["x"], "z": None} for r in rows]
    ref = ref_view(view, ["user_id"], rows)
    result = assert_matches_reference(
        store, _ents((1, LATER)), ["v:y", "v:z"], [ref], point_in_time=mode
    )
    assert result.to_arrow().select(["y", "z"]).to_pylist() == [{"y": 10, "z": None}]
    assert result.views[0].schema_id == table.schema().schema_id  # what a rebuild reads with


@pytest.mark.parametrize("mode", MODES)
def test_time_travel_reads_a_column_dropped_since(store, feature_ns, mode):
    name = f"{feature_ns}.dropped"
    schema = KEYS.append(pa.field("x", pa.int64())).append(pa.field("w", pa.int64()))
    table = store.catalog.create_table(name, schema=schema)
    _append(table, schema, [{"user_id": 1, "event_timestamp": at(1), "x": 7, "w": 1}])
    first = table.current_snapshot().snapshot_id
    _apply(store, name, table, {"x": pa.int64(), "w": pa.int64()})
    with table.update_schema() as update:
        update.delete_column("x")
    then = store.get_historical_features(
        _ents((1, LATER)), ["v:x", "v:w"], as_of=first, point_in_time=mode
    )
    assert then.to_arrow().select(["x", "w"]).to_pylist() == [{"x": 7, "w": 1}]
    with pytest.raises(RetrievalError, match=r"lacks column\(s\) \['x'\]"):
        store.get_historical_features(_ents((1, LATER)), ["v:x"], point_in_time=mode)
