"""Entity input kinds, bad requests (clear errors before any scan), TrainingSet persistence."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from pit_support import TS, at, make_table, view_def
from pyiceberg.types import LongType

from featurestore.errors import (
    AlreadyExistsError,
    NotFoundError,
    RetrievalError,
    SnapshotNotFoundError,
)
from featurestore.retrieval import EMPTY_SNAPSHOT
from featurestore.retrieval.engine import get_historical_features

SCHEMA = pa.schema(
    [("user_id", pa.int64()), ("event_timestamp", TS), ("x", pa.int64()), ("name", pa.string())]
)


@pytest.fixture
def view(store, feature_ns):
    table = f"{feature_ns}.users"
    make_table(
        store,
        table,
        SCHEMA,
        [
            [{"user_id": 1, "event_timestamp": at(1), "x": 1, "name": "a"}],
            [{"user_id": 2, "event_timestamp": at(1), "x": None, "name": "b"}],
        ],
    )
    entity, view = view_def("users", table, ["user_id"], {"x": pa.int64(), "name": pa.string()})
    store.apply([entity, view])
    return view


ENTS = pa.table(
    {
        "user_id": pa.array([2, 1], pa.int64()),
        "event_timestamp": pa.array([at(3), at(3)], TS),
        "label": [0.5, 1.5],
    }
)


def test_every_entity_input_kind_gives_the_same_rows(store, view):
    expected = store.get_historical_features(ENTS, ["users:*"])
    assert expected.to_arrow().column("x").to_pylist() == [None, 1]
    assert expected.to_arrow().schema.field("x").type == pa.int64()
    ns = view.table.split(".")[0]
    sql = (
        f"SELECT u.user_id, TIMESTAMPTZ '2024-01-03 00:00:00+00' AS event_timestamp, "
        f"u.x + 0.5 AS label FROM {view.table} u ORDER BY u.user_id DESC"
    )
    saved = f"{ns}.entities"
    expected.entity_frame()
    store.catalog.create_table(saved, schema=ENTS.schema).append(ENTS)
    inputs = [
        ENTS.to_pandas(),
        pl.from_arrow(ENTS),
        pa.RecordBatchReader.from_batches(ENTS.schema, ENTS.to_batches()),
        saved,
    ]
    for data in inputs:
        got = store.get_historical_features(data, ["users:*"])
        assert got.content_hash() == expected.content_hash(), type(data)
    from_sql = store.get_historical_features(sql, ["users:x"]).to_arrow()
    assert from_sql.column("user_id").to_pylist() == [2, 1]
    assert from_sql.column("x").to_pylist() == [None, 1]


def test_entity_sql_may_read_a_table_twice_at_the_pinned_snapshot(store, view):
    first = store.load_table(view.table).current_snapshot().snapshot_id
    store.load_table(view.table).append(
        pa.Table.from_pylist(
            [{"user_id": 3, "event_timestamp": at(1), "x": 3, "name": "c"}], schema=SCHEMA
        )
    )
    sql = (
        "SELECT a.user_id, TIMESTAMPTZ '2024-01-03 00:00:00+00' AS event_timestamp "
        f"FROM {view.table} a JOIN {view.table} b ON a.user_id = b.user_id ORDER BY a.user_id"
    )
    pinned = store.get_historical_features(sql, ["users:x"], as_of=first).to_arrow()
    assert pinned.column("user_id").to_pylist() == [1, 2]  # read twice, both at `first`
    assert pinned.column("x").to_pylist() == [1, None]
    current = store.get_historical_features(sql, ["users:x"]).to_arrow()
    assert current.column("user_id").to_pylist() == [1, 2, 3]
    assert current.column("x").to_pylist() == [1, None, 3]


def test_entity_sql_reads_a_reused_column_name_by_field_id(store, view):
    # `label` dropped and added again is a new column (a new field ID): NULL in the old file.
    # Reading the files by name would return the dropped column's value there.
    ns = view.table.split(".")[0]
    schema = pa.schema([("user_id", pa.int64()), ("event_timestamp", TS), ("label", pa.int64())])
    table = store.catalog.create_table(f"{ns}.labelled", schema=schema)
    table.append(
        pa.Table.from_pylist(
            [{"user_id": 1, "event_timestamp": at(2), "label": 111}], schema=schema
        )
    )
    with table.update_schema() as update:
        update.delete_column("label")
    with table.update_schema() as update:
        update.add_column("label", LongType())
    table.append(
        pa.Table.from_pylist(
            [{"user_id": 2, "event_timestamp": at(3), "label": 222}], schema=schema
        )
    )
    sql = f"SELECT * FROM {ns}.labelled ORDER BY event_timestamp"
    got = store.get_historical_features(sql, ["users:x"]).to_arrow()
    assert got.select(["user_id", "label"]).to_pylist() == [
        {"user_id": 1, "label": None},
        {"user_id": 2, "label": 222},
    ]


def test_entity_sql_that_does_not_parse_is_a_retrieval_error(store, view):
    with pytest.raises(RetrievalError, match="Cannot parse the entity SQL"):
        store.get_historical_features("SELEKT 1", ["users:x"])


def test_training_set_api_save_and_reproduce(store, view):
    ts = store.get_historical_features(ENTS, ["users:*"], full_feature_names=True)
    assert ts.feature_refs == ("users:x", "users:name")
    assert ts.entity_columns == ("user_id", "event_timestamp", "label")
    assert ts.to_pandas()["users__x"].dtype == pd.Int64Dtype()
    assert ts.to_polars().height == 2
    assert ts.views[0].schema_id is not None
    ns = view.table.split(".")[0]
    snapshot_id = ts.save(f"{ns}.training")
    assert store.catalog.load_table(f"{ns}.training").current_snapshot().snapshot_id == snapshot_id
    with pytest.raises(AlreadyExistsError):
        ts.save(f"{ns}.training")
    entity_table = f"{ns}.ts_entities"
    store.catalog.create_table(entity_table, schema=ts.entity_frame().schema).append(
        ts.entity_frame()
    )
    make_table_append = store.catalog.load_table(view.table)
    make_table_append.append(
        pa.Table.from_pylist(
            [{"user_id": 1, "event_timestamp": at(2), "x": 5, "name": "z"}], schema=SCHEMA
        )
    )
    again = get_historical_features(
        store,
        entity_table,
        ts.feature_refs,
        as_of=ts.as_of_mapping(),
        full_feature_names=True,
        timestamp_column=ts.timestamp_column,
        registry=store.registry(as_of=ts.registry_snapshot_id),
    )
    assert again.content_hash() == ts.content_hash()
    assert store.get_historical_features(ENTS, ["users:*"]).content_hash() != ts.content_hash()


def test_content_hash_ignores_chunking_and_metadata():
    from featurestore.retrieval.training_set import content_hash

    table = pa.table(
        {
            "a": [1, None, 3],
            "s": ["x", None, "zz"],
            "t": pa.array([at(1), None, at(2)], TS),
            "l": [[1], None, [2, 3]],
        }
    )
    chunked = pa.concat_tables([table.slice(0, 1), table.slice(1)])
    assert content_hash(chunked) == content_hash(table.replace_schema_metadata({"k": "v"}))
    changed = table.set_column(0, "a", pa.array([1, None, 4]))
    assert content_hash(changed) != content_hash(table)
    assert content_hash(table).startswith("sha256:")


@pytest.mark.parametrize(
    ("entities", "features", "options", "error", "text"),
    [
        (ENTS.drop(["user_id"]), ["users:x"], {}, RetrievalError, "join key column"),
        (ENTS.drop(["event_timestamp"]), ["users:x"], {}, RetrievalError, "no timestamp column"),
        (
            ENTS.append_column("other", pa.array([at(1)] * 2, TS)).rename_columns(
                ["user_id", "a_ts", "label", "b_ts"]
            ),
            ["users:x"],
            {},
            RetrievalError,
            "several",
        ),
        (
            ENTS.set_column(0, "user_id", pa.array(["2", "1"])),
            ["users:x"],
            {},
            RetrievalError,
            "Cast the entity column",
        ),
        (ENTS, ["usres:x"], {}, NotFoundError, "Did you mean 'users'"),
        (ENTS, ["users:xx"], {}, NotFoundError, "Did you mean 'x'"),
        (ENTS, ["users"], {}, RetrievalError, "Invalid feature reference"),
        (ENTS, "users:x", {}, RetrievalError, "not the string"),
        (ENTS, ["users:x", "u2=users:x"], {}, RetrievalError, "full_feature_names=True"),
        (ENTS, ["users:x"], {"point_in_time": "later"}, RetrievalError, "'event' or 'known'"),
        (ENTS, ["users:x"], {"as_of": {"nope": 1}}, RetrievalError, "not requested views"),
        (ENTS, ["users:x"], {"as_of": 12345}, SnapshotNotFoundError, "12345"),
        (ENTS, ["users:x"], {"as_of": "no_tag"}, SnapshotNotFoundError, "no_tag"),
        (
            ENTS,
            ["users:x"],
            {"as_of": dt.datetime(2000, 1, 1)},
            SnapshotNotFoundError,
            "before the table existed",
        ),
        (
            ENTS.rename_columns(["user_id", "event_timestamp", "x"]),
            ["users:x"],
            {},
            RetrievalError,
            "collide with entity",
        ),
        (ENTS, ["u=users[nokey=user_id]:x"], {}, RetrievalError, "not join keys"),
        (
            ENTS.append_column("__fs_row", pa.array([1, 2])),
            ["users:x"],
            {},
            RetrievalError,
            "reserved prefix",
        ),
        (ENTS, ["users:x"], {"timestamp_column": "label"}, RetrievalError, "not a timestamp"),
    ],
)
def test_bad_requests_fail_clearly(store, view, entities, features, options, error, text):
    with pytest.raises(error, match=text.replace("(", r"\(").replace(")", r"\)")):
        store.get_historical_features(entities, features, **options)


def test_empty_snapshot_constant_reads_the_table_as_empty(store, view):
    got = store.get_historical_features(ENTS, ["users:x"], as_of={"users": EMPTY_SNAPSHOT})
    assert got.to_arrow().column("x").to_pylist() == [None, None]
    assert got.snapshot_ids == {view.table: None}
