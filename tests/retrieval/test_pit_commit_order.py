"""Rule 2's last tie-break, "the row committed last wins", in the cases where file order lies.

* a write that rewrites an older data file (upsert, replace_range) must not make its kept rows
  "committed last": ``_ingested_at`` ranks after the created field, before the file order;
* format-v1 tables have no sequence numbers: files go by their adding snapshot's position in
  the ancestry;
* one write split into more than 10 files: ``00000-10-...`` comes after ``00000-9-...``;
* files that each hold one ``_ingested_at`` value: the scan orders them by it and the join
  ranks on the file order alone; it must pick the same rows as the full rank.

Event mode reads the files in DuckDB (native.py), known mode in Python: both must agree. Also
here: TTLs too large for datetime arithmetic, and warehouse paths with glob characters.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from pit_support import (
    LATER,
    MODES,
    TS,
    UTC,
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
from featurestore.retrieval.planning import FileInfo, commit_order

WRITE_SCHEMA = pa.schema(
    [("user_id", pa.int64()), ("event_timestamp", TS), ("created", TS), ("x", pa.string())]
)
SCHEMA = pa.schema([("user_id", pa.int64()), ("event_timestamp", TS), ("x", pa.int64())])


def _store_view(store, feature_ns, *, created="created", dtype="string"):
    entity = Entity(name="user", join_keys=["user_id"], key_dtypes={"user_id": "int64"})
    view = FeatureView(
        name="v",
        entities=["user"],
        table=f"{feature_ns}.v",
        created_timestamp_field=created,
        features=[Feature(name="x", dtype=dtype)],
    )
    store.apply([entity, view])
    return view


def _stored_rows(store, view):
    """The table's rows for the oracle, in commit order (by ``_ingested_at``: one per write)."""
    table = store.load_table(view.table).scan().to_arrow()
    return sorted(table.to_pylist(), key=lambda r: r["_ingested_at"])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("rewrite", ["upsert", "replace_range"])
def test_a_rewrite_of_an_older_file_keeps_the_tie_winner(store, feature_ns, rewrite, mode):
    view = _store_view(store, feature_ns)
    t, c = at(1, 12), at(2)
    other = at(1, 13, 30) if rewrite == "replace_range" else t

    def write(rows, **options):
        store.write("v", pa.Table.from_pylist(rows, schema=WRITE_SCHEMA), **options)

    write(
        [
            {"user_id": 1, "event_timestamp": t, "created": c, "x": "old"},
            {"user_id": 2, "event_timestamp": other, "created": c, "x": "k2"},
        ]
    )
    write([{"user_id": 1, "event_timestamp": t, "created": c, "x": "new"}])
    ents = user_entities([(1, LATER), (2, LATER)])
    before = store.get_historical_features(ents, ["v:x"], point_in_time=mode)
    assert before.to_arrow()["x"].to_pylist() == ["new", "k2"]
    if rewrite == "upsert":  # rewrites the first file: its row of key 1 moves to a new file
        write([{"user_id": 2, "event_timestamp": t, "created": c, "x": "k2b"}], mode="upsert")
    else:
        write([], mode="replace_range", start=at(1, 13), end=at(1, 14))
    rows = _stored_rows(store, view)
    ref = ref_view(view, ["user_id"], rows, ingested="_ingested_at")
    after = assert_matches_reference(store, ents, ["v:x"], [ref], point_in_time=mode)
    assert after.to_arrow()["x"].to_pylist() == ["new", "k2b" if rewrite == "upsert" else None]


@pytest.mark.parametrize("mode", MODES)
def test_ingested_at_breaks_ties_after_the_created_field(store, feature_ns, mode, monkeypatch):
    schema = SCHEMA.append(pa.field("created", TS)).append(pa.field("_ingested_at", TS))
    name = f"{feature_ns}.v"

    def row(key, x, created, ingested):
        return {"user_id": key, "event_timestamp": at(2), "x": x, "created": created,
                "_ingested_at": ingested}  # fmt: skip

    batches = [
        [row(1, 1, at(3), at(5)), row(2, 4, at(3), None), row(3, 7, at(4), at(1))],
        [row(1, 2, at(3), at(4)), row(2, 5, at(3), at(1)), row(3, 8, at(3), at(9))],
        [row(1, 3, at(3), at(4)), row(2, 6, at(3), None)],
    ]
    rows = make_table(store, name, schema, batches)
    entity, view = view_def("v", name, ["user_id"], {"x": pa.int64()}, created="created")
    store.apply([entity, view])
    ref = ref_view(view, ["user_id"], rows, ingested="_ingested_at")
    built = joins_built(monkeypatch)
    ents = user_entities([(1, LATER), (2, LATER), (3, LATER)])
    result = assert_matches_reference(store, ents, ["v:x"], [ref], point_in_time=mode)
    assert built
    assert all(j.stamp == "_ingested_at" for j in built)
    # 1: the greatest _ingested_at wins over a later commit; 2: NULL ranks lowest;
    # 3: the created field still comes first
    assert result.to_arrow()["x"].to_pylist() == [1, 5, 7]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("created", ["created", None])
def test_one_stamp_per_file_is_folded_into_the_file_order(
    store, feature_ns, mode, created, monkeypatch
):
    schema = SCHEMA.append(pa.field("created", TS)) if created else SCHEMA
    schema = schema.append(pa.field("_ingested_at", TS))
    name = f"{feature_ns}.v"

    def row(key, x, ingested):
        created_at = {"created": at(3)} if created else {}
        return {"user_id": key, "event_timestamp": at(2), "x": x, **created_at,
                "_ingested_at": ingested}  # fmt: skip

    batches = [  # one append, one file, one stamp (or only NULLs) each; out of commit order
        [row(1, 1, at(5)), row(2, 4, at(5))],
        [row(1, 2, at(4)), row(2, 5, at(4))],
        [row(3, 7, at(6)), row(3, 8, at(6))],
        [row(1, 3, None), row(2, 6, None)],
        [row(4, 9, at(1))],
        [row(4, 10, None)],
    ]
    rows = make_table(store, name, schema, batches)
    entity, view = view_def("v", name, ["user_id"], {"x": pa.int64()}, created=created)
    store.apply([entity, view])
    ref = ref_view(view, ["user_id"], rows, ingested="_ingested_at")
    built = joins_built(monkeypatch)
    ents = user_entities([(1, LATER), (2, LATER), (3, LATER), (4, LATER)])
    result = assert_matches_reference(store, ents, ["v:x"], [ref], point_in_time=mode)
    # 1, 2: the greatest stamp wins over later commits; 3: same stamp, the later input row;
    # 4: a NULL stamp ranks below every stamp, even when committed last
    assert result.to_arrow()["x"].to_pylist() == [1, 4, 8, 9]
    assert built
    assert all(j.stamp is None and j.created == created for j in built)


@pytest.mark.parametrize("mode", MODES)
def test_format_v1_ties_go_to_the_last_commit(store, feature_ns, mode):
    name = f"{feature_ns}.v1"
    table = store.catalog.create_table(name, schema=SCHEMA, properties={"format-version": "1"})
    assert table.metadata.format_version == 1
    rows = []
    for x in range(8):  # all data sequence numbers are 0: file paths are random UUIDs
        batch = [{"user_id": 1, "event_timestamp": at(1), "x": x}]
        table.append(pa.Table.from_pylist(batch, schema=SCHEMA))
        commit = dt.datetime.fromtimestamp(table.current_snapshot().timestamp_ms / 1000, UTC)
        rows += [{**r, "_commit": commit} for r in batch]
    entity, view = view_def("v1", name, ["user_id"], {"x": pa.int64()})
    store.apply([entity, view])
    ref = ref_view(view, ["user_id"], rows)
    ents = user_entities([(1, LATER), (1, at(1))])
    result = assert_matches_reference(store, ents, ["v1:x"], [ref], point_in_time=mode)
    unknown = None  # known mode: not yet committed at the entity time
    assert result.to_arrow()["x"].to_pylist() == [7, 7 if mode == "event" else unknown]
    first = table.history()[2].snapshot_id  # an older snapshot: its own ancestry
    pinned = store.get_historical_features(ents, ["v1:x"], point_in_time=mode, as_of=first)
    assert pinned.to_arrow()["x"].to_pylist() == [2, 2 if mode == "event" else unknown]


@pytest.mark.parametrize("mode", MODES)
def test_a_write_split_into_many_files_lets_the_last_input_row_win(
    store, feature_ns, mode, monkeypatch
):
    monkeypatch.setattr(writer_module, "CHUNK_ROWS", 1)  # stands in for a >10M-row write
    view = _store_view(store, feature_ns, created=None, dtype="int64")
    data = pa.table(
        {"user_id": [1] * 12, "event_timestamp": pa.array([at(1)] * 12, TS), "x": list(range(12))}
    )
    store.write("v", data)
    table = store.load_table(view.table)
    assert len(list(table.scan().plan_files())) == 12  # files 00000-0-... to 00000-11-...
    stamp = table.scan().to_arrow()["_ingested_at"][0].as_py()
    rows = [{**r, "_ingested_at": stamp} for r in data.to_pylist()]  # one write, input order
    ref = ref_view(view, ["user_id"], rows, ingested="_ingested_at")
    ents = user_entities([(1, at(1)), (1, LATER)])
    result = assert_matches_reference(store, ents, ["v:x"], [ref], point_in_time=mode)
    assert result.to_arrow()["x"].to_pylist() == [11 if mode == "event" else None, 11]


def test_commit_order_compares_snapshot_position_then_sequence_then_numbers_in_paths():
    files = [
        FileInfo("d/00000-10-u.parquet", 3, 30, 2),
        FileInfo("d/00000-9-u.parquet", 3, 30, 2),
        FileInfo("d/00000-0-u.parquet", 9, 20, 1),  # an older snapshot, greater sequence
        FileInfo("d/00000-1-a.parquet", 0, 10, 0),
        FileInfo("d/00000-0-z.parquet", 5, None, -1),  # adding snapshot expired
        FileInfo("d/00000-2-a.parquet", 0, 10, 0),
    ]
    ordered = [f.path for f in sorted(files, key=commit_order)]
    assert ordered == [
        "d/00000-0-z.parquet",
        "d/00000-1-a.parquet",
        "d/00000-2-a.parquet",
        "d/00000-0-u.parquet",
        "d/00000-9-u.parquet",
        "d/00000-10-u.parquet",
    ]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "ttl",
    [dt.timedelta.max, dt.timedelta(days=365 * 3000), dt.timedelta(days=365 * 2000)],
    ids=["max", "3000y", "2000y"],
)
def test_a_huge_ttl_bounds_nothing_it_cannot_express(store, feature_ns, ttl, mode):
    batches = [
        [
            {"user_id": 1, "event_timestamp": dt.datetime(10, 1, 1, tzinfo=UTC), "x": 1},
            {"user_id": 2, "event_timestamp": at(1), "x": 2},
        ]
    ]
    name = f"{feature_ns}.v"
    rows = make_table(store, name, SCHEMA, batches)
    entity, view = view_def("v", name, ["user_id"], {"x": pa.int64()}, ttl=ttl)
    store.apply([entity, view])
    ref = ref_view(view, ["user_id"], rows)
    far = dt.datetime(9999, 12, 31, tzinfo=UTC)
    ents = user_entities([(1, LATER), (2, LATER), (1, far), (2, dt.datetime(1, 1, 1, tzinfo=UTC))])
    result = assert_matches_reference(store, ents, ["v:x"], [ref], point_in_time=mode)
    expected = {  # year 10 is within the TTL of 2100, of 9999, or neither
        dt.timedelta.max: [1, 2, 1, None],
        dt.timedelta(days=365 * 3000): [1, 2, None, None],
        dt.timedelta(days=365 * 2000): [None, 2, None, None],
    }
    assert result.to_arrow()["x"].to_pylist() == expected[ttl]


@pytest.mark.parametrize("mode", MODES)
def test_a_warehouse_path_with_glob_characters_reads_its_own_files(
    store, feature_ns, tmp_path, mode
):
    name = f"{feature_ns}.g"
    location = tmp_path / "wh[x]" / "t*"
    table = store.catalog.create_table(name, schema=SCHEMA, location=f"file://{location}")
    rows = []
    for x in (1, 2):
        batch = [{"user_id": 1, "event_timestamp": at(1), "x": x}]
        table.append(pa.Table.from_pylist(batch, schema=SCHEMA))
        commit = dt.datetime.fromtimestamp(table.current_snapshot().timestamp_ms / 1000, UTC)
        rows += [{**r, "_commit": commit} for r in batch]
    paths = [t.file.file_path.removeprefix("file://") for t in table.scan().plan_files()]
    assert len(paths) == 2
    assert all("/wh[x]/t*/" in p for p in paths)
    for path, other in zip(paths, reversed(paths), strict=True):  # what "wh[x]" would match
        decoy = Path(path.replace("/wh[x]/", "/whx/"))
        decoy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(other, decoy)
    entity, view = view_def("g", name, ["user_id"], {"x": pa.int64()})
    store.apply([entity, view])
    ref = ref_view(view, ["user_id"], rows)
    ents = user_entities([(1, LATER)])
    result = assert_matches_reference(store, ents, ["g:x"], [ref], point_in_time=mode)
    assert result.to_arrow()["x"].to_pylist() == [2]
    if mode == "event":
        assert result.scan_stats["g"]["rows_read"] is None  # DuckDB read the files
