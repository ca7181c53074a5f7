"""Tie-free plans: when no two planned rows share keys and event time, the join ranks on time alone.

The proof comes from metadata (retrieval/bounds.py): every planned file was added by a
snapshot whose summary claims its rows unique (``featurestore.unique-on``, written by the
store's writes after checking them, writes/uniqueness.py), and files of different snapshots do
not overlap in every one of (keys, event time). Each case checks both which plan was used and
the result against the reference; known mode always keeps the full rank.
"""

from __future__ import annotations

import itertools
import struct

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pit_support import (
    LATER,
    MODES,
    TS,
    assert_matches_reference,
    at,
    joins_built,
    make_table,
    ref_view,
    user_entities,
    view_def,
)

import featurestore.writes.writer as writer_module
from featurestore import Entity, Feature, FeatureView
from featurestore.errors import DataValidationError
from featurestore.writes.uniqueness import UNIQUE_ON, Uniqueness

WRITE_SCHEMA = pa.schema(
    [("user_id", pa.int64()), ("event_timestamp", TS), ("created", TS), ("x", pa.int64())]
)
_COUNTER = itertools.count()


def _view(store, feature_ns, name="v"):
    entity = Entity(name="user", join_keys=["user_id"], key_dtypes={"user_id": "int64"})
    view = FeatureView(
        name=name,
        entities=["user"],
        table=f"{feature_ns}.{name}",
        created_timestamp_field="created",
        features=[Feature(name="x", dtype="int64")],
    )
    store.apply([entity, view])
    return view


def _row(key, ts, x, created=None):
    return {"user_id": key, "event_timestamp": ts, "created": created or at(20), "x": x}


def _write(store, view, rows, **options):
    return store.write(view.name, pa.Table.from_pylist(rows, schema=WRITE_SCHEMA), **options)


def _claims(store, view):
    """Each snapshot's uniqueness claim, oldest first (None: no claim)."""
    snapshots = sorted(store.load_table(view.table).snapshots(), key=lambda s: s.timestamp_ms)
    return [s.summary.get(UNIQUE_ON) for s in snapshots]


def _key_time_ids(store, view):
    schema = store.load_table(view.table).schema()
    return ",".join(str(schema.find_field(c).field_id) for c in ["user_id", "event_timestamp"])


def _stored_rows(store, view):
    """The table's rows for the oracle, in commit order (one ``_ingested_at`` per write)."""
    rows = store.load_table(view.table).scan().to_arrow().to_pylist()
    return sorted(rows, key=lambda r: r["_ingested_at"])


def _check(store, view, ents, mode, monkeypatch):
    """The engine against the oracle; returns (result values, tie_free of the join)."""
    built = joins_built(monkeypatch)
    ref = ref_view(view, ["user_id"], _stored_rows(store, view), ingested="_ingested_at")
    result = assert_matches_reference(store, ents, ["v:x"], [ref], point_in_time=mode)
    assert len(built) == 1
    return result.to_arrow()["x"].to_pylist(), built[0].tie_free


# --- the claim, written by the store ---------------------------------------------------------


def test_a_write_of_unique_rows_claims_it_and_one_with_a_tie_does_not(store, feature_ns):
    view = _view(store, feature_ns)
    _write(store, view, [_row(1, at(1), 1), _row(2, at(1), 2), _row(1, at(2), 3)])
    _write(store, view, [_row(1, at(3), 4), _row(1, at(3), 5, created=at(21))])
    assert _claims(store, view) == [_key_time_ids(store, view), None]


def test_chunks_claim_only_when_their_ranges_cannot_share_a_row(store, feature_ns, monkeypatch):
    monkeypatch.setattr(writer_module, "CHUNK_ROWS", 2)
    view = _view(store, feature_ns)
    # chunks [day 1, day 2] and [day 3, day 4]: disjoint in time
    _write(store, view, [_row(1, at(d), d) for d in (1, 2, 3, 4)])
    # chunks [day 5, day 7] and [day 6, day 8] of the same key: they overlap, unchecked
    _write(store, view, [_row(1, at(d), d) for d in (5, 7, 6, 8)])
    # the same, but keys 1 and 2: disjoint in the key
    _write(store, view, [_row(1, at(9), 9), _row(1, at(11), 11), _row(2, at(10), 10)])
    # chunks that meet at one instant (day 13) with different keys there: checked, unique
    _write(
        store,
        view,
        [_row(1, at(12), 1), _row(3, at(13), 3), _row(2, at(13), 2), _row(1, at(14), 4)],
    )
    # ... and with the same key there: a real duplicate across chunks
    _write(store, view, [_row(1, at(14), 1), _row(2, at(15), 2), _row(2, at(15), 3)])
    ids = _key_time_ids(store, view)
    assert _claims(store, view) == [ids, None, ids, ids, None]


def test_a_write_that_rewrites_survivors_does_not_claim(store, feature_ns):
    view = _view(store, feature_ns)
    _write(store, view, [_row(1, at(1), 1), _row(2, at(1), 2)])
    _write(store, view, [_row(1, at(1), 10)], mode="upsert")  # keeps key 2's row: rewritten
    _write(store, view, [_row(3, at(2), 3)], mode="replace_range", start=at(2), end=at(3))
    ids = _key_time_ids(store, view)
    assert _claims(store, view) == [ids, None, ids]


# --- the plan ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_unique_writes_that_do_not_overlap_join_on_time_alone(store, feature_ns, mode, monkeypatch):
    view = _view(store, feature_ns)
    _write(store, view, [_row(k, at(1, h), 10 * k + h) for k in range(5) for h in (0, 6, 12)])
    _write(store, view, [_row(k, at(2, h), 100 + k + h) for k in range(5) for h in (0, 12)])
    ents = user_entities([(k, t) for k in range(6) for t in (at(1), at(1, 7), at(2, 11), LATER)])
    values, tie_free = _check(store, view, ents, mode, monkeypatch)
    assert tie_free is (mode == "event")
    # key 0 at day 1 00:00, 07:00, day 2 11:00, later (known mode: only later, once written)
    assert values[:4] == ([0, 6, 100, 112] if mode == "event" else [None, None, None, 112])


@pytest.mark.parametrize("mode", MODES)
def test_a_tie_across_writes_keeps_the_full_rank(store, feature_ns, mode, monkeypatch):
    view = _view(store, feature_ns)
    keys = range(40)
    # the same (key, time) in both writes; the created field picks the winner, which is in
    # the first write for even keys and in the second for odd ones
    _write(store, view, [_row(k, at(1), k, created=at(21 if k % 2 == 0 else 20)) for k in keys])
    _write(store, view, [_row(k, at(1), -k, created=at(21 if k % 2 else 20)) for k in keys])
    assert _claims(store, view) == [_key_time_ids(store, view)] * 2  # each write is unique
    ents = user_entities([(k, LATER) for k in keys])
    values, tie_free = _check(store, view, ents, mode, monkeypatch)
    assert tie_free is False
    assert values == [k if k % 2 == 0 else -k for k in keys]


@pytest.mark.parametrize("mode", MODES)
def test_a_tie_inside_one_write_keeps_the_full_rank(store, feature_ns, mode, monkeypatch):
    view = _view(store, feature_ns)
    _write(store, view, [_row(1, at(1), 1, created=at(21)), _row(1, at(1), 2)])
    values, tie_free = _check(store, view, user_entities([(1, LATER)]), mode, monkeypatch)
    assert (values, tie_free) == ([1], False)


def test_files_without_the_claim_keep_the_full_rank(store, feature_ns, monkeypatch):
    schema = pa.schema([("user_id", pa.int64()), ("event_timestamp", TS), ("x", pa.int64())])
    name = f"{feature_ns}.ext"
    rows = make_table(store, name, schema, [[{"user_id": 1, "event_timestamp": at(1), "x": 1}]])
    entity, view = view_def("ext", name, ["user_id"], {"x": pa.int64()})
    store.apply([entity, view])
    built = joins_built(monkeypatch)
    ref = ref_view(view, ["user_id"], rows)
    assert_matches_reference(store, user_entities([(1, LATER)]), ["ext:x"], [ref])
    assert [j.tie_free for j in built] == [False]


def test_an_upsert_ends_the_proof_for_the_files_it_rewrote(store, feature_ns, monkeypatch):
    view = _view(store, feature_ns)
    _write(store, view, [_row(1, at(1), 1), _row(2, at(1), 2), _row(3, at(3), 3)])
    _write(store, view, [_row(1, at(1), 10, created=at(22))], mode="upsert")
    ents = user_entities([(1, LATER), (2, LATER), (3, LATER)])
    values, tie_free = _check(store, view, ents, "event", monkeypatch)
    assert (values, tie_free) == ([10, 2, 3], False)
    _write(store, view, [_row(1, at(1), 11)], mode="replace_range", start=at(1), end=at(2))
    values, tie_free = _check(store, view, ents, "event", monkeypatch)
    assert (values, tie_free) == ([11, None, 3], True)  # day 1 replaced: files drop, none rewritten


# --- property: random writes through the store ------------------------------------------------

CELLS = [(k, d, h) for k in range(3) for d in (1, 2) for h in (0, 12)]
rows_strategy = st.lists(  # (key, day, hour, created hour): few cells, so writes often tie
    st.tuples(st.integers(0, 2), st.integers(1, 2), st.sampled_from([0, 12]), st.integers(0, 5)),
    min_size=1,
    max_size=5,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(rows_strategy, min_size=1, max_size=3), known=st.booleans())
def test_store_writes_agree_with_the_reference(store, feature_ns, batches, known):
    """Random writes: ties inside and across writes, or none; every cell is asked for."""
    view = _view(store, feature_ns, name=f"r{next(_COUNTER)}")
    serial = itertools.count()
    for batch in batches:
        rows = [
            _row(k, at(d, h), next(serial), created=at(20, c, micro=next(serial)))
            for k, d, h, c in batch
        ]
        _write(store, view, rows)
    ents = user_entities([(k, at(d, h)) for k, d, h in CELLS] + [(k, LATER) for k in range(4)])
    ref = ref_view(view, ["user_id"], _stored_rows(store, view), ingested="_ingested_at")
    mode = "known" if known else "event"
    assert_matches_reference(store, ents, [f"{view.name}:x"], [ref], point_in_time=mode)


# --- what the proof must not trust -------------------------------------------------------------


def _float_view(store, feature_ns):
    entity = Entity(name="point", join_keys=["k"], key_dtypes={"k": "float64"})
    view = FeatureView(
        name="fv", entities=["point"], table=f"{feature_ns}.fv",
        features=[Feature(name="x", dtype="int64")],
    )  # fmt: skip
    store.apply([entity, view])
    return view


def _float_rows(keys, x):
    schema = pa.schema([("k", pa.float64()), ("event_timestamp", TS), ("x", pa.int64())])
    return pa.table({"k": keys, "event_timestamp": [at(1)] * len(keys), "x": x}, schema=schema)


def test_a_nan_key_is_never_claimed_unique(store, feature_ns):
    # The store refuses NaN keys (they match nothing, like NULL); the uniqueness check on its
    # own must not claim a chunk with NaN keys unique either (NaN = NaN joins in DuckDB).
    view = _float_view(store, feature_ns)
    store.write("fv", _float_rows([1.0, 2.0], [1, 2]))
    with pytest.raises(DataValidationError, match="NULL or NaN"):
        store.write("fv", _float_rows([3.0, float("nan"), float("nan")], [3, 4, 5]))
    table = store.load_table(view.table)
    ids = ",".join(str(table.schema().find_field(c).field_id) for c in ["k", "event_timestamp"])
    assert [s.summary.get(UNIQUE_ON) for s in table.snapshots()] == [ids]
    check = Uniqueness(["k", "event_timestamp"])
    check.add(_float_rows([3.0, float("nan")], [3, 4]).sort_by("k"))
    assert not check.holds()


def test_float_bounds_that_may_hide_nan_prove_nothing(store, feature_ns, monkeypatch):
    """Claims forged on plain appends: [1, 1] and [2, 2] look apart, but NaN joins NaN."""
    view = _float_view(store, feature_ns)
    store.write("fv", _float_rows([], []))  # creates the table, commits nothing
    table = store.load_table(view.table)
    ids = ",".join(str(table.schema().find_field(c).field_id) for c in ["k", "event_timestamp"])
    for key in (1.0, 2.0):
        rows = _float_rows([key, float("nan")], [int(key), 10 * int(key)])
        rows = rows.append_column("_ingested_at", pa.array([at(2)] * rows.num_rows, TS))
        rows = rows.select(table.schema().column_names).cast(table.schema().as_arrow())
        table.append(rows, snapshot_properties={UNIQUE_ON: ids})
    built = joins_built(monkeypatch)
    ents = pa.table({"k": [1.0, 2.0], "event_timestamp": [LATER, LATER]},
                    schema=pa.schema([("k", pa.float64()), ("event_timestamp", TS)]))  # fmt: skip
    result = store.get_historical_features(ents, ["fv:x"])
    assert result.to_arrow()["x"].to_pylist() == [1, 2]
    assert [j.tie_free for j in built] == [False]


def test_float_bounds_count_only_where_the_file_records_no_nan():
    from types import SimpleNamespace

    from pyiceberg.types import DoubleType, LongType, NestedField

    from featurestore.retrieval.bounds import file_bounds

    low, high = struct.pack("<d", 1.0), struct.pack("<d", 2.0)  # Iceberg's bound encoding
    field = NestedField(1, "k", DoubleType(), required=False)

    def data_file(nans):
        return SimpleNamespace(lower_bounds={1: low}, upper_bounds={1: high}, nan_value_counts=nans)

    assert file_bounds(field, data_file({1: 0})) == (1.0, 2.0)
    assert file_bounds(field, data_file({1: 3})) == (None, None)
    assert file_bounds(field, data_file({})) == (None, None)  # PyIceberg's writer records none
    integer = NestedField(2, "n", LongType(), required=False)
    no_stats = SimpleNamespace(lower_bounds={}, upper_bounds={}, nan_value_counts={})
    assert file_bounds(integer, no_stats) == (None, None)  # no bounds: unbounded


@pytest.mark.parametrize("claim", ["", "x", "1,", "99"])
def test_a_claim_that_is_not_field_ids_of_the_view_proves_nothing(
    store, feature_ns, claim, monkeypatch
):
    view = _view(store, feature_ns)
    _write(store, view, [_row(1, at(1), 1)])
    table = store.load_table(view.table)
    rows = table.scan().to_arrow().cast(table.schema().as_arrow())
    table.append(rows, snapshot_properties={UNIQUE_ON: claim})  # the same row again: a tie
    values, tie_free = _check(store, view, user_entities([(1, LATER)]), "event", monkeypatch)
    assert (values, tie_free) == ([1], False)
