"""Layout of tables the store creates, external tables, and schema evolution."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from write_support import content, rows, ts

import featurestore
from featurestore import ConfigError, DefinitionError, Entity, Feature, FeatureView
from featurestore.registry.models import INGESTED_AT


def test_created_table_layout(store: Any, spend_view: FeatureView) -> None:
    result = store.write("user_spend", rows((1, ts(1), 1.0), (2, ts(2), 2.0)))
    table = store.load_table(spend_view.table)
    schema = table.schema()
    assert [f.name for f in schema.fields] == ["user_id", "event_timestamp", "spend", INGESTED_AT]
    assert schema.find_field("user_id").required
    assert schema.find_field("event_timestamp").required
    assert str(schema.find_field("event_timestamp").field_type) == "timestamptz"
    assert not schema.find_field("spend").required
    assert str(schema.find_field(INGESTED_AT).field_type) == "timestamptz"
    (field,) = table.spec().fields
    assert str(field.transform) == "day"
    assert field.source_id == schema.find_field("event_timestamp").field_id
    sort = [(f.source_id, str(f.transform)) for f in table.sort_order().fields]
    assert sort == [(1, "identity"), (2, "identity")]
    assert table.properties["featurestore.view"] == "user_spend"
    assert table.properties["featurestore.created-by"].startswith("featurestore ")
    summary = table.current_snapshot().summary
    assert summary["featurestore.view"] == "user_spend"
    assert summary["featurestore.mode"] == "append"
    assert summary["featurestore.writer"].startswith("featurestore ")
    assert result.snapshot_id == table.current_snapshot().snapshot_id
    stamps = set(table.scan().to_arrow()[INGESTED_AT].to_pylist())
    assert stamps == {result.ingested_at}
    assert table.properties["write.parquet.compression-codec"] == "snappy"
    assert _codecs(table) == {"SNAPPY"}


def test_month_partitions_and_declared_key_dtype(store: Any, feature_ns: str) -> None:
    view = FeatureView(
        name="card_stats",
        entities=["card"],
        table=f"{feature_ns}.card_stats",
        features=[Feature(name="n", dtype="int32")],
        partition_granularity="month",
        created_timestamp_field="created",
    )
    store.apply([Entity(name="card", key_dtypes={"card": "string"}), view])
    table = store._writer.ensure_table(view)
    assert str(table.spec().fields[0].transform) == "month"
    assert str(table.schema().find_field("card").field_type) == "string"
    assert [f.name for f in table.schema().fields] == [
        "card",
        "event_timestamp",
        "created",
        "n",
        INGESTED_AT,
    ]
    assert table.current_snapshot() is None


def _table_of_one_row(store: Any, feature_ns: str, name: str) -> Any:
    """Register view ``name``, write one row (the store creates its table), load the table."""
    view = FeatureView(
        name=name,
        entities=["user"],
        table=f"{feature_ns}.{name}",
        features=[Feature(name="x", dtype="float64")],
    )
    store.apply([Entity(name="user", join_keys=["user_id"]), view])
    store.write(name, pa.table({"user_id": [1], "event_timestamp": [ts(1)], "x": [1.0]}))
    return store.load_table(view.table)


def test_store_config_month_granularity(store_factory: Any, feature_ns: str) -> None:
    store = store_factory(partition_granularity="month")
    table = _table_of_one_row(store, feature_ns, "m")
    assert str(table.spec().fields[0].transform) == "month"


def test_store_config_parquet_compression(store_factory: Any, feature_ns: str) -> None:
    table = _table_of_one_row(store_factory(parquet_compression="zstd"), feature_ns, "z")
    assert table.properties["write.parquet.compression-codec"] == "zstd"
    assert _codecs(table) == {"ZSTD"}


def test_unknown_parquet_compression_names_the_valid_codecs(tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match=r"parquet_compression.*'snappy'.*'zstd'"):
        featurestore.connect(home=tmp_path, parquet_compression="brotli")


def _codecs(table: Any) -> set[str]:
    """The compression codecs of every column chunk of the table's current data files."""
    from urllib.parse import urlparse

    import pyarrow.parquet as pq

    codecs = set()
    for task in table.scan().plan_files():
        metadata = pq.ParquetFile(urlparse(task.file.file_path).path).metadata
        for group in range(metadata.num_row_groups):
            row_group = metadata.row_group(group)
            codecs |= {row_group.column(c).compression for c in range(row_group.num_columns)}
    return codecs


def test_external_table_is_read_only(store: Any, feature_ns: str) -> None:
    name = f"{feature_ns}.external"
    store.catalog.create_table(name, schema=rows((1, ts(1), 1.0)).schema)
    view = FeatureView(
        name="ext", entities=["user"], table=name, features=[Feature(name="spend", dtype="float64")]
    )
    store.apply([Entity(name="user", join_keys=["user_id"]), view])
    with pytest.raises(DefinitionError, match="external tables are read-only"):
        store.write("ext", rows((1, ts(1), 1.0)))
    assert store.load_table(name).current_snapshot() is None


def test_schema_evolution_adds_column(store: Any, spend_view: FeatureView) -> None:
    first = store.write("user_spend", rows((1, ts(1), 1.0)))
    evolved = spend_view.model_copy(
        update={"features": [*spend_view.features, Feature(name="visits", dtype="int64")]}
    )
    data = rows((2, ts(2), 2.0)).append_column("visits", pa.array([5], pa.int64()))
    store.write(evolved, data)
    table = store.load_table(spend_view.table)
    assert "visits" in [f.name for f in table.schema().fields]
    now = sorted(
        table.scan().to_arrow().select(["user_id", "visits"]).to_pylist(),
        key=lambda r: r["user_id"],
    )
    assert now == [{"user_id": 1, "visits": None}, {"user_id": 2, "visits": 5}]
    old = table.scan(snapshot_id=first.snapshot_id).to_arrow()
    assert old["user_id"].to_pylist() == [1]
    assert content(store, spend_view.table)[0][:2] == (1, ts(1))


def test_changed_dtype_is_an_error(store: Any, spend_view: FeatureView) -> None:
    store.write("user_spend", rows((1, ts(1), 1.0)))
    changed = spend_view.model_copy(update={"features": [Feature(name="spend", dtype="string")]})
    before = store.load_table(spend_view.table).current_snapshot().snapshot_id
    with pytest.raises(DefinitionError, match="'spend'"):
        store._writer.write(
            changed, pa.table({"user_id": [1], "event_timestamp": [ts(2)], "spend": ["x"]})
        )
    assert store.load_table(spend_view.table).current_snapshot().snapshot_id == before


def test_apply_of_an_added_feature_evolves_the_table(store: Any, spend_view: FeatureView) -> None:
    first = store.write("user_spend", rows((1, ts(1), 1.0)))
    evolved = spend_view.model_copy(
        update={"features": [*spend_view.features, Feature(name="visits", dtype="int64")]}
    )
    store.apply([evolved])
    table = store.load_table(spend_view.table)
    assert str(table.schema().find_field("visits").field_type) == "long"
    assert table.current_snapshot().snapshot_id == first.snapshot_id  # schema only, no data
    entities = pa.table({"user_id": [1], "event_timestamp": [ts(3)]})
    before = store.get_historical_features(entities, ["user_spend:*"]).to_arrow().to_pylist()
    assert before == [{"user_id": 1, "event_timestamp": ts(3), "spend": 1.0, "visits": None}]
    data = rows((1, ts(2), 2.0)).append_column("visits", pa.array([7], pa.int64()))
    store.write("user_spend", data)
    after = store.get_historical_features(entities, ["user_spend:*"]).to_arrow().to_pylist()
    assert after == [{"user_id": 1, "event_timestamp": ts(3), "spend": 2.0, "visits": 7}]
    old = table.scan(snapshot_id=first.snapshot_id).to_arrow()
    assert old.num_rows == 1


def test_apply_of_a_widened_dtype_widens_the_column(store: Any, feature_ns: str) -> None:
    # apply lets int32 serve an int64 feature (and a list of them); for a table the store
    # writes, the column is widened in place, so writes of the declared dtype keep working.
    def view(dtype: str, extra: list[Feature]) -> FeatureView:
        features = [Feature(name="n", dtype=dtype), Feature(name="l", dtype=f"list<{dtype}>")]
        return FeatureView(
            name="counts",
            entities=["user"],
            table=f"{feature_ns}.counts",
            features=[*features, *extra],
        )

    store.apply([Entity(name="user", join_keys=["user_id"], key_dtypes={"user_id": "int64"})])
    store.apply([view("int32", [])])
    small = pa.table(
        {
            "user_id": [1],
            "event_timestamp": [ts(1)],
            "n": pa.array([7], pa.int32()),
            "l": pa.array([[1]], pa.list_(pa.int32())),
        }
    )
    store.write("counts", small)
    store.apply([view("int64", [Feature(name="tag", dtype="string")])])
    big = pa.table(
        {
            "user_id": [1],
            "event_timestamp": [ts(2)],
            "n": [2**40],
            "l": [[2**40]],
            "tag": ["x"],
        }
    )
    store.write("counts", big)
    table = store.load_table(f"{feature_ns}.counts")
    assert str(table.schema().find_field("n").field_type) == "long"
    assert str(table.schema().find_field("l").field_type) == "list<long>"
    got = table.scan().to_arrow().sort_by("event_timestamp").select(["n", "l", "tag"])
    assert got.to_pylist() == [
        {"n": 7, "l": [1], "tag": None},
        {"n": 2**40, "l": [2**40], "tag": "x"},
    ]


def test_apply_of_a_view_missing_key_columns_is_still_an_error(
    store: Any, spend_view: FeatureView
) -> None:
    store.write("user_spend", rows((1, ts(1), 1.0)))
    moved = spend_view.model_copy(update={"timestamp_field": "other_ts"})
    with pytest.raises(DefinitionError, match="other_ts"):
        store.apply([moved])


def test_first_write_creates_the_namespace_too(store: Any) -> None:
    from fs_testing import unique_name

    view = FeatureView(
        name="fresh",
        entities=["user"],
        table=f"{unique_name('newns')}.fresh",
        features=[Feature(name="spend", dtype="float64")],
    )
    store.apply([Entity(name="user", join_keys=["user_id"]), view])
    result = store.write("fresh", rows((1, ts(1), 1.0)))
    assert result.rows_written == 1
    assert store.load_table(view.table).current_snapshot().snapshot_id == result.snapshot_id
