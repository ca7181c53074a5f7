"""Hand-made point-in-time cases: the engine against the reference oracle, on both catalogs."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
from pit_support import (
    LATER,
    TS,
    UTC,
    assert_matches_reference,
    at,
    make_table,
    ref_view,
    view_def,
)

from featurestore.retrieval import EMPTY_SNAPSHOT

SCHEMA = pa.schema([("user_id", pa.int64()), ("event_timestamp", TS), ("x", pa.int64())])


def _simple(store, feature_ns, batches, *, ttl=None, schema=SCHEMA, created=None, name="v"):
    table = f"{feature_ns}.{name}"
    rows = make_table(store, table, schema, batches)
    features = {f.name: f.type for f in schema if f.name not in ("user_id", "event_timestamp")}
    features.pop(created, None)
    features.pop("_ingested_at", None)
    entity, view = view_def(name, table, ["user_id"], features, ttl=ttl, created=created)
    store.apply([entity, view])
    ingested = "_ingested_at" if "_ingested_at" in schema.names else None
    return view, ref_view(view, ["user_id"], rows, ingested=ingested)


def _entities(pairs):
    return pa.table(
        {"user_id": [k for k, _ in pairs], "event_timestamp": [t for _, t in pairs]},
        schema=pa.schema([("user_id", pa.int64()), ("event_timestamp", TS)]),
    )


def test_ties_without_created_last_commit_wins(store, feature_ns):
    batches = [
        [
            {"user_id": 1, "event_timestamp": at(2), "x": 1},
            {"user_id": 1, "event_timestamp": at(2), "x": 2},
        ],
        [{"user_id": 1, "event_timestamp": at(2), "x": 3}],
        [{"user_id": 1, "event_timestamp": at(1), "x": 4}],
    ]
    _, ref = _simple(store, feature_ns, batches)
    ents = _entities([(1, at(2)), (1, at(3)), (1, at(1, 12))])
    result = assert_matches_reference(store, ents, ["v:x"], [ref])
    assert result.to_arrow().column("x").to_pylist() == [3, 3, 4]


def test_ties_with_created_timestamp(store, feature_ns):
    schema = SCHEMA.append(pa.field("created", TS))
    batches = [
        [
            {"user_id": 1, "event_timestamp": at(2), "x": 1, "created": at(5)},
            {"user_id": 1, "event_timestamp": at(2), "x": 2, "created": None},
        ],
        [
            {"user_id": 1, "event_timestamp": at(2), "x": 3, "created": at(4)},
            {"user_id": 2, "event_timestamp": at(2), "x": 5, "created": None},
            {"user_id": 2, "event_timestamp": at(2), "x": 6, "created": None},
        ],
    ]
    _, ref = _simple(store, feature_ns, batches, schema=schema, created="created")
    result = assert_matches_reference(store, _entities([(1, at(3)), (2, at(3))]), ["v:x"], [ref])
    assert result.to_arrow().column("x").to_pylist() == [1, 6]


def test_ingested_at_breaks_ties_when_no_created_field(store, feature_ns):
    schema = SCHEMA.append(pa.field("_ingested_at", TS))
    batches = [
        [{"user_id": 1, "event_timestamp": at(2), "x": 1, "_ingested_at": at(9)}],
        [{"user_id": 1, "event_timestamp": at(2), "x": 2, "_ingested_at": at(8)}],
    ]
    _, ref = _simple(store, feature_ns, batches, schema=schema)
    result = assert_matches_reference(store, _entities([(1, at(3))]), ["v:x"], [ref])
    assert result.to_arrow().column("x").to_pylist() == [1]


def test_duplicates_null_keys_future_rows_and_duplicate_entities(store, feature_ns):
    row = {"user_id": 1, "event_timestamp": at(2), "x": 7}
    batches = [
        [row, dict(row), {"user_id": None, "event_timestamp": at(1), "x": 99}],
        [{"user_id": 3, "event_timestamp": at(20), "x": 30}],
    ]
    _, ref = _simple(store, feature_ns, batches)
    ents = _entities([(1, at(3)), (1, at(3)), (None, at(3)), (3, at(10)), (1, None), (4, at(3))])
    result = assert_matches_reference(store, ents, ["v:x"], [ref])
    assert result.to_arrow().column("x").to_pylist() == [7, 7, None, None, None, None]
    assert result.num_rows == 6


def test_ttl_boundaries(store, feature_ns):
    ttl = dt.timedelta(hours=1)
    _, ref = _simple(
        store, feature_ns, [[{"user_id": 1, "event_timestamp": at(2), "x": 1}]], ttl=ttl
    )
    exactly = at(2) + ttl
    ents = _entities([(1, exactly), (1, exactly + dt.timedelta(microseconds=1)), (1, at(2))])
    result = assert_matches_reference(store, ents, ["v:x"], [ref])
    assert result.to_arrow().column("x").to_pylist() == [1, None, 1]


def test_composite_keys_several_views_and_alias_key_map(store, feature_ns):
    s1 = pa.schema(
        [("a", pa.int64()), ("b", pa.string()), ("event_timestamp", TS), ("f1", pa.float64())]
    )
    rows1 = make_table(
        store,
        f"{feature_ns}.t1",
        s1,
        [
            [
                {"a": 1, "b": "x", "event_timestamp": at(1), "f1": 1.5},
                {"a": 1, "b": "y", "event_timestamp": at(1), "f1": 2.5},
            ]
        ],
    )
    s2 = pa.schema([("airport_id", pa.string()), ("event_timestamp", TS), ("delay", pa.int32())])
    rows2 = make_table(
        store,
        f"{feature_ns}.t2",
        s2,
        [
            [
                {"airport_id": "SFO", "event_timestamp": at(1), "delay": 5},
                {"airport_id": "JFK", "event_timestamp": at(1), "delay": 9},
            ]
        ],
    )
    e1, v1 = view_def("pair", f"{feature_ns}.t1", ["a", "b"], {"f1": pa.float64()})
    e2, v2 = view_def("airport", f"{feature_ns}.t2", ["airport_id"], {"delay": pa.int32()})
    store.apply([e1, v1, e2, v2])
    ents = pa.table(
        {
            "a": [1, 1, 2],
            "b": ["y", "x", "x"],
            "origin": ["SFO", "JFK", None],
            "dest": ["JFK", "XXX", "SFO"],
            "label": [True, False, True],
            "event_timestamp": pa.array([at(2)] * 3, TS),
        }
    )
    refs = [
        "pair:f1",
        "origin=airport[airport_id=origin]:delay",
        "dest=airport[airport_id=dest]:delay",
    ]
    views = [
        ref_view(v1, ["a", "b"], rows1, outputs=["pair__f1"]),
        ref_view(v2, ["airport_id"], rows2, entity_keys=["origin"], outputs=["origin__delay"]),
        ref_view(v2, ["airport_id"], rows2, entity_keys=["dest"], outputs=["dest__delay"]),
    ]
    result = assert_matches_reference(store, ents, refs, views, full_feature_names=True)
    out = result.to_arrow()
    assert out.column_names == [*ents.column_names, "pair__f1", "origin__delay", "dest__delay"]
    assert out.column("origin__delay").to_pylist() == [5, 9, None]
    assert out.column("dest__delay").to_pylist() == [9, None, 5]
    assert out.schema.field("dest__delay").type == pa.int32()
    assert result.feature_refs == ("pair:f1", *refs[1:])
    assert result.join_keys["origin"] == ("origin",)


def test_mixed_time_zones_and_naive_in_pandas(store, feature_ns):
    _, ref = _simple(store, feature_ns, [[{"user_id": 1, "event_timestamp": at(2), "x": 1}]])
    ny = dt.timezone(dt.timedelta(hours=-5))
    frame = pd.DataFrame(
        {
            "user_id": [1, 1, 1],
            "event_timestamp": [
                dt.datetime(2024, 1, 1, 20, 0, tzinfo=ny),  # 2024-01-02 01:00 UTC
                dt.datetime(2024, 1, 2, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
                dt.datetime(2024, 1, 2, 0, 0, tzinfo=UTC),
            ],
        }
    )
    result = assert_matches_reference(store, frame, ["v:x"], [ref])
    assert result.to_arrow().column("x").to_pylist() == [1, None, 1]
    naive = pd.DataFrame({"user_id": [1], "event_timestamp": [pd.Timestamp("2024-01-02")]})
    out = store.get_historical_features(naive, ["v:x"]).to_arrow()
    assert out.schema.field("event_timestamp").type == TS
    assert out.column("x").to_pylist() == [1]


def test_empty_feature_table_and_empty_entities(store, feature_ns):
    view, ref = _simple(store, feature_ns, [])
    result = assert_matches_reference(store, _entities([(1, at(2))]), ["v:x"], [ref])
    assert result.to_arrow().column("x").to_pylist() == [None]
    assert result.snapshot_ids == {view.table: None}
    assert result.as_of_mapping() == {"v": EMPTY_SNAPSHOT}
    empty = store.get_historical_features(_entities([]), ["v:x"])
    assert empty.num_rows == 0
    assert empty.to_arrow().schema.field("x").type == pa.int64()


def test_one_row_and_large_entity_frames(store, feature_ns):
    batches = [[{"user_id": k, "event_timestamp": at(1 + k % 5), "x": k} for k in range(500)]]
    _, ref = _simple(store, feature_ns, batches)
    assert_matches_reference(store, _entities([(7, at(9))]), ["v:x"], [ref])
    n = 100_000
    big = pa.table(
        {
            "user_id": pa.array([i % 600 for i in range(n)], pa.int64()),
            "event_timestamp": pa.array([at(1 + i % 7) for i in range(n)], TS),
        }
    )
    result = store.get_historical_features(big, ["v:x"])
    got = result.to_arrow()
    assert got.num_rows == n
    sample = list(range(0, n, 997))
    expected = [
        (i % 600) if i % 600 < 500 and 1 + (i % 600) % 5 <= 1 + i % 7 else None for i in sample
    ]
    assert [got.column("x")[i].as_py() for i in sample] == expected


def test_as_of_by_time_id_and_tag(store, feature_ns):
    view, _ = _simple(
        store,
        feature_ns,
        [
            [{"user_id": 1, "event_timestamp": at(1), "x": 1}],
            [{"user_id": 1, "event_timestamp": at(2), "x": 2}],
        ],
    )
    table = store.catalog.load_table(view.table)
    first, second = (e.snapshot_id for e in table.history())
    table.manage_snapshots().create_tag(first, "v1").commit()
    ents = _entities([(1, at(5))])
    assert store.get_historical_features(ents, ["v:x"]).to_arrow()["x"].to_pylist() == [2]
    for as_of in (first, "v1", {"v": first}):
        got = store.get_historical_features(ents, ["v:x"], as_of=as_of)
        assert got.to_arrow()["x"].to_pylist() == [1]
        assert got.snapshot_ids == {view.table: first}
    first_ms = table.snapshot_by_id(first).timestamp_ms
    when = dt.datetime.fromtimestamp(first_ms / 1000, UTC)
    got = store.get_historical_features(ents, ["v:x"], as_of=when)
    assert got.snapshot_ids[view.table] in (first, second)
    assert got.snapshot_ids[view.table] == table.snapshot_as_of_timestamp(first_ms).snapshot_id


def test_known_at_hides_late_rows(store, feature_ns):
    schema = SCHEMA.append(pa.field("_ingested_at", TS))
    batches = [
        [
            {"user_id": 1, "event_timestamp": at(1), "x": 1, "_ingested_at": at(1, 1)},
            {"user_id": 1, "event_timestamp": at(2), "x": 2, "_ingested_at": at(9)},  # backfill
            {
                "user_id": 2,
                "event_timestamp": at(1),
                "x": 3,
                "_ingested_at": None,
            },  # -> commit time
        ]
    ]
    _, ref = _simple(store, feature_ns, batches, schema=schema)
    ents = _entities([(1, at(3)), (1, at(10)), (1, at(1)), (2, at(3))])
    event = assert_matches_reference(store, ents, ["v:x"], [ref])
    known = assert_matches_reference(store, ents, ["v:x"], [ref], point_in_time="known")
    assert event.to_arrow()["x"].to_pylist() == [2, 2, 1, 3]
    assert known.to_arrow()["x"].to_pylist() == [1, 2, None, None]


def test_known_at_external_table_uses_commit_times(store, feature_ns):
    batches = [
        [{"user_id": 1, "event_timestamp": at(1), "x": 1}],
        [{"user_id": 1, "event_timestamp": at(2), "x": 2}],
    ]
    _, ref = _simple(store, feature_ns, batches)
    c1, c2 = ref.rows[0]["_commit"], ref.rows[1]["_commit"]
    ents = _entities([(1, c1), (1, c2), (1, c1 - dt.timedelta(microseconds=1))])
    result = assert_matches_reference(store, ents, ["v:x"], [ref], point_in_time="known")
    assert result.to_arrow()["x"].to_pylist() == [1, 2, None]


def test_a_nan_key_matches_nothing_like_null(store, feature_ns):
    # An external table may hold a NaN float key; an Arrow entity frame may too (pandas turns
    # NaN into NULL). NaN is no value: it matches nothing (DuckDB alone would match NaN = NaN).
    schema = pa.schema([("k", pa.float64()), ("event_timestamp", TS), ("x", pa.int64())])
    make_table(store, f"{feature_ns}.nan_keys", schema, [[
        {"k": float("nan"), "event_timestamp": at(1), "x": 1},
        {"k": 1.0, "event_timestamp": at(1), "x": 2},
    ]])  # fmt: skip
    entity, view = view_def("v", f"{feature_ns}.nan_keys", ["k"], {"x": pa.int64()})
    store.apply([entity, view])
    ents = pa.table(
        {"k": pa.array([float("nan"), 1.0, None]), "event_timestamp": pa.array([LATER] * 3, TS)}
    )
    for mode in ("event", "known"):
        got = store.get_historical_features(ents, ["v:x"], point_in_time=mode)
        assert got.to_arrow()["x"].to_pylist() == [None, 2, None]


def test_entity_times_beyond_year_9999_and_all_null_keys(store, feature_ns):
    # Arrow and DuckDB timestamps reach year 294,247; Python's datetime stops at 9999, so the
    # scan's time bounds leave such an end open instead of overflowing. A key column that is
    # all NULL (Arrow type null, e.g. an empty pandas object column) matches nothing.
    schema = pa.schema([("user_id", pa.int64()), ("event_timestamp", TS), ("x", pa.int64())])
    make_table(store, f"{feature_ns}.far", schema, [[
        {"user_id": 1, "event_timestamp": at(1), "x": 7},
    ]])  # fmt: skip
    entity, view = view_def("v", f"{feature_ns}.far", ["user_id"], {"x": pa.int64()})
    store.apply([entity, view])
    far = pa.array([400_000_000_000_000_000, None], pa.int64()).cast(TS)  # about year 14,645
    ents = pa.table({"user_id": pa.array([1, 1], pa.int64()), "event_timestamp": far})
    nulls = pa.table({"user_id": pa.nulls(2), "event_timestamp": pa.array([at(3)] * 2, TS)})
    for mode in ("event", "known"):
        got = store.get_historical_features(ents, ["v:x"], point_in_time=mode)
        assert got.to_arrow()["x"].to_pylist() == [7, None]
        got = store.get_historical_features(nulls, ["v:x"], point_in_time=mode)
        assert got.to_arrow()["x"].to_pylist() == [None, None]
