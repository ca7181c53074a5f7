"""Apply checks a view against its existing Iceberg table: columns, types, changed keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from registry_defs import make_view

from featurestore import DefinitionError
from featurestore.registry.models import Entity, Feature
from featurestore.registry.schema_check import dtype_fits

if TYPE_CHECKING:
    from featurestore.store import FeatureStore


def _create_table(store: FeatureStore, name: str) -> None:
    from pyiceberg.schema import Schema
    from pyiceberg.types import (
        DoubleType,
        FloatType,
        IntegerType,
        LongType,
        NestedField,
        StringType,
        TimestamptzType,
    )

    schema = Schema(
        NestedField(1, "user_id", LongType(), required=False),
        NestedField(2, "event_timestamp", TimestamptzType(), required=False),
        NestedField(3, "spend", DoubleType(), required=False),
        NestedField(4, "n_orders", IntegerType(), required=False),
        NestedField(5, "segment", StringType(), required=False),
        NestedField(6, "score", FloatType(), required=False),
    )
    store.catalog.create_table(name, schema=schema)


@pytest.fixture
def table(store: FeatureStore, feature_ns: str) -> str:
    name = f"{feature_ns}.user_spend"
    _create_table(store, name)
    return name


def test_matching_table_is_accepted_with_widening(store: FeatureStore, table: str) -> None:
    view = make_view(
        table=table,
        features=[
            Feature(name="spend", dtype="float64"),
            Feature(name="n_orders", dtype="int64"),  # int32 column: widening is fine
            Feature(name="score", dtype="float64"),  # float32 column
        ],
        field_mapping={"amount": "spend"},  # renames written data; the table holds "spend"
    )
    result = store.apply([Entity(name="user", join_keys=["user_id"]), view])
    assert result.created == ["user", "user_spend"]


def test_table_columns_are_matched_after_field_mapping(store: FeatureStore, table: str) -> None:
    view = make_view(
        table=table,
        features=[Feature(name="spend_7d", dtype="float64")],
        field_mapping={"spend": "spend_7d"},
    )
    with pytest.raises(DefinitionError, match=r"missing columns \['spend_7d'\]"):
        store.apply([Entity(name="user", join_keys=["user_id"]), view])


def test_missing_columns_and_bad_types_listed_by_name(store: FeatureStore, table: str) -> None:
    view = make_view(
        table=table,
        created_timestamp_field="created_at",
        features=[
            Feature(name="segment", dtype="int64"),
            Feature(name="n_orders", dtype="string"),
            Feature(name="lifetime_value", dtype="float64"),
        ],
    )
    user = Entity(name="user", join_keys=["user_id", "region"])
    with pytest.raises(DefinitionError) as info:
        store.apply([user, view])
    text = str(info.value)
    assert f"feature view 'user_spend' (table {table!r})" in text
    assert "missing columns ['region', 'created_at', 'lifetime_value']" in text
    assert "feature 'segment' is declared 'int64' but column 'segment' is 'string'" in text
    assert "feature 'n_orders' is declared 'string' but column 'n_orders' is 'int32'" in text
    assert "Nothing was written" in text
    assert store.list_entities() == []


def test_narrowing_and_key_dtype_are_rejected(store: FeatureStore, table: str) -> None:
    user = Entity(name="user", join_keys=["user_id"], key_dtypes={"user_id": "string"})
    view = make_view(table=table, features=[Feature(name="spend", dtype="float32")])
    with pytest.raises(DefinitionError) as info:
        store.apply([user, view])
    assert "join key 'user_id' is declared 'string' but column 'user_id' is 'int64'" in str(
        info.value
    )
    assert "feature 'spend' is declared 'float32' but column 'spend' is 'float64'" in str(
        info.value
    )


def test_changing_keys_or_dtype_of_a_view_with_a_table(store: FeatureStore, table: str) -> None:
    user = Entity(name="user", join_keys=["user_id"])
    segment = Entity(name="segment_e", join_keys=["segment"])
    view = make_view(table=table, features=[Feature(name="n_orders", dtype="int32")])
    store.apply([user, segment, view])
    regrouped = make_view(
        table=table,
        entities=["user", "segment_e"],
        features=[Feature(name="n_orders", dtype="int32")],
    )
    with pytest.raises(DefinitionError) as info:
        store.apply(regrouped)
    text = str(info.value)
    assert "entities changed from ['user'] to ['user', 'segment_e']" in text
    assert "join keys changed from ['user_id'] to ['user_id', 'segment']" in text
    widened = make_view(table=table, features=[Feature(name="n_orders", dtype="int64")])
    assert store.apply(widened).updated == ["user_spend"]


def test_views_without_a_table_are_not_schema_checked(store: FeatureStore, feature_ns: str) -> None:
    view = make_view(table=f"{feature_ns}.not_created_yet")
    assert store.apply([Entity(name="user", join_keys=["user_id"]), view]).created


@pytest.mark.parametrize(
    ("actual", "declared", "fits"),
    [
        ("int64", "int64", True),
        ("int32", "int64", True),
        ("int64", "int32", False),
        ("float32", "float64", True),
        ("int64", "float64", False),
        ("decimal(9,2)", "decimal(12,2)", True),
        ("decimal(9,2)", "decimal(12,3)", False),
        ("list<int32>", "list<int64>", True),
        ("list<string>", "list<int64>", False),
        ("unsupported binary", "string", False),
    ],
)
def test_dtype_fits(actual: str, declared: str, fits: bool) -> None:
    assert dtype_fits(actual, declared) is fits
