"""Apply, versioning, reads, search, delete and time travel of the registry, on both catalogs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from registry_defs import make_view

from featurestore import DefinitionError, NotFoundError, SnapshotNotFoundError
from featurestore.registry.models import Entity, Feature, FeatureView

if TYPE_CHECKING:
    from featurestore.store import FeatureStore


def _snapshot_ids(store: FeatureStore) -> list[int]:
    table = store.catalog.load_table(store.system_table_name("registry"))
    return [s.snapshot_id for s in table.snapshots()]


def test_apply_registers_and_reads_back(
    store: FeatureStore, user: Entity, view: FeatureView
) -> None:
    result = store.apply([user, view])
    assert result.created == ["user", "user_spend"]
    assert result.updated == []
    assert result.unchanged == []
    assert result.snapshot_id == _snapshot_ids(store)[-1]
    assert store.get_entity("user") == user
    assert store.get_feature_view("user_spend") == view
    assert store.get_feature_view("user_spend").ttl == timedelta(days=7)
    assert store.list_entities() == [user]
    assert store.list_feature_views() == [view]
    assert store.registry().join_keys("user_spend") == ["user_id"]


def test_reapply_unchanged_writes_nothing(
    store: FeatureStore, user: Entity, view: FeatureView
) -> None:
    first = store.apply([user, view])
    again = store.apply([view, user])
    assert again.unchanged == ["user_spend", "user"]
    assert again.created == again.updated == []
    assert again.snapshot_id == first.snapshot_id
    assert _snapshot_ids(store) == [first.snapshot_id]


def test_tags_in_another_order_are_unchanged(store: FeatureStore, user: Entity) -> None:
    store.apply([user, make_view(tags={"a": "1", "b": "2"})])
    assert store.apply(make_view(tags={"b": "2", "a": "1"})).unchanged == ["user_spend"]


def test_changed_definition_becomes_next_version(
    store: FeatureStore, user: Entity, view: FeatureView
) -> None:
    first = store.apply([user, view])
    changed = make_view(description="Weekly spend", ttl=timedelta(days=14))
    second = store.apply([user, changed])
    assert second.updated == ["user_spend"]
    assert second.unchanged == ["user"]
    assert second.snapshot_id != first.snapshot_id
    assert store.get_feature_view("user_spend").ttl == timedelta(days=14)
    versions = [r.version for r in store._registry.history("feature_view", "user_spend")]
    assert versions == [1, 2]
    assert store.registry(as_of=first.snapshot_id).get_feature_view("user_spend") == view
    assert store.registry(as_of=second.snapshot_id).get_feature_view("user_spend") == changed


def test_view_may_use_entity_registered_earlier(
    store: FeatureStore, user: Entity, view: FeatureView
) -> None:
    store.apply(user)
    assert store.apply(view).created == ["user_spend"]


def test_failing_apply_writes_nothing(store: FeatureStore, user: Entity, view: FeatureView) -> None:
    store.apply(user)
    before = _snapshot_ids(store)
    orphan = make_view(name="orphan", entities=["merchant"])
    with pytest.raises(DefinitionError, match=r"unknown entities \['merchant'\]"):
        store.apply([view, Entity(name="card"), orphan])
    assert _snapshot_ids(store) == before
    assert store.list_feature_views() == []
    assert [e.name for e in store.list_entities()] == ["user"]


def test_same_name_twice_in_one_apply(store: FeatureStore, user: Entity) -> None:
    with pytest.raises(DefinitionError, match="defined twice with different content"):
        store.apply([user, Entity(name="user", join_keys=["uid"])])
    assert store.apply([user, user]).created == ["user"]


def test_apply_rejects_non_definitions(store: FeatureStore) -> None:
    with pytest.raises(DefinitionError, match="give an Entity, a FeatureView"):
        store.apply("user")  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match="Cannot apply dict"):
        store.apply([{"name": "user"}])  # type: ignore[list-item]


def test_unknown_names_suggest_close_ones(
    store: FeatureStore, user: Entity, view: FeatureView
) -> None:
    store.apply([user, view])
    with pytest.raises(NotFoundError, match="Did you mean 'user_spend'") as info:
        store.get_feature_view("user_spnd")
    assert info.value.candidates == ["user_spend"]
    with pytest.raises(NotFoundError, match=r"Unknown entity 'usr'\. Did you mean 'user'"):
        store.get_entity("usr")


def test_reads_on_an_empty_registry(store: FeatureStore) -> None:
    assert store.list_entities() == []
    assert store.list_feature_views() == []
    assert store.search("x") == []
    assert store.registry().snapshot_id is None
    with pytest.raises(NotFoundError, match="No feature views are registered"):
        store.get_feature_view("anything")
    with pytest.raises(SnapshotNotFoundError, match="nothing was applied"):
        store.registry(as_of=datetime.now(UTC))


def test_list_filters_and_search(store: FeatureStore, user: Entity) -> None:
    card = Entity(name="card", join_keys=["card_id"], tags={"domain": "payments"})
    spend = make_view()
    fraud = make_view(
        name="card_fraud",
        table="features.card_fraud",
        entities=["card"],
        owner="fraud-team",
        tags={"team": "fraud"},
        description=None,
        features=[Feature(name="chargebacks_30d", dtype="int32", description="Disputed payments")],
    )
    store.apply([user, card, spend, fraud])
    names = lambda objs: [o.name for o in objs]  # noqa: E731
    assert names(store.list_feature_views()) == ["card_fraud", "user_spend"]
    assert names(store.list_feature_views(owner="fraud-team")) == ["card_fraud"]
    assert names(store.list_feature_views(tag="pii")) == ["user_spend"]
    assert names(store.list_feature_views(tag={"team": "fraud"})) == ["card_fraud"]
    assert names(store.list_feature_views(tag={"team": "fraud", "pii": "no"})) == []
    assert names(store.list_feature_views(owner="risk-team", tag="team")) == ["user_spend"]
    assert names(store.search("PAYMENTS")) == ["card", "card_fraud"]  # tag value, feature text
    assert names(store.search("customer")) == ["user"]
    assert names(store.search("chargebacks")) == ["card_fraud"]
    assert names(store.search("risk")) == ["user_spend"]
    assert store.search("nothing-like-this") == []


def test_delete_and_recreate(store: FeatureStore, user: Entity, view: FeatureView) -> None:
    applied = store.apply([user, view])
    store.delete_feature_view("user_spend")
    assert store.list_feature_views() == []
    with pytest.raises(NotFoundError):
        store.get_feature_view("user_spend")
    with pytest.raises(NotFoundError):
        store.delete_feature_view("user_spend")
    assert store.registry(as_of=applied.snapshot_id).get_feature_view("user_spend") == view
    again = store.apply(view)
    assert again.created == ["user_spend"]
    history = store._registry.history("feature_view", "user_spend")
    assert [(r.version, r.deleted) for r in history] == [(1, False), (2, True), (3, False)]
    assert store.get_feature_view("user_spend") == view


def test_as_of_time_and_snapshot_id(store: FeatureStore, user: Entity, view: FeatureView) -> None:
    first = store.apply([user, view])
    table = store.catalog.load_table(store.system_table_name("registry"))
    first_ms = table.snapshot_by_id(first.snapshot_id).timestamp_ms
    changed = make_view(owner="growth-team")
    second = store.apply(changed)
    second_ms = (
        store.catalog.load_table(store.system_table_name("registry"))
        .snapshot_by_id(second.snapshot_id)
        .timestamp_ms
    )
    at_first = datetime.fromtimestamp(first_ms / 1000, tz=UTC)
    snap = store.registry(as_of=at_first)
    assert snap.snapshot_id == first.snapshot_id
    assert snap.get_feature_view("user_spend").owner == "risk-team"
    naive = datetime.fromtimestamp(second_ms / 1000, tz=UTC).replace(tzinfo=None)
    assert store.registry(as_of=naive).snapshot_id == second.snapshot_id  # naive means UTC
    assert (
        store.registry(as_of=second.snapshot_id).get_feature_view("user_spend").owner
        == "growth-team"
    )
    assert store.registry().snapshot_id == second.snapshot_id
    with pytest.raises(SnapshotNotFoundError, match="before the registry existed: its earliest"):
        store.registry(as_of=at_first - timedelta(seconds=1))
    with pytest.raises(SnapshotNotFoundError, match=str(second.snapshot_id)):
        store.registry(as_of=12345)
    with pytest.raises(DefinitionError, match="as_of must be"):
        store.registry(as_of="yesterday")  # type: ignore[arg-type]


def test_view_definition_survives_round_trip_exactly(store: FeatureStore, user: Entity) -> None:
    import pyarrow as pa

    view = FeatureView(
        name="rich",
        entities=["user"],
        table="features.rich",
        created_timestamp_field="created_at",
        features=[
            Feature(name="amount", dtype="decimal(12, 2)", tags={"unit": "EUR"}),
            Feature(name="history", dtype=pa.list_(pa.int32())),
            Feature(name="seen", dtype="timestamp"),
        ],
        field_mapping={"amt": "amount"},
        partition_granularity="month",
    )
    store.apply([user, view])
    assert store.get_feature_view("rich") == view
    assert store.get_feature_view("rich").features[1].dtype == "list<int32>"


def test_feature_tables_cannot_live_in_the_system_namespace(store: FeatureStore) -> None:
    view = FeatureView(
        name="sneaky",
        entities=["user"],
        table=f"{store.namespace}.model_runs",
        features=[Feature(name="x", dtype="int64")],
    )
    with pytest.raises(DefinitionError, match="system namespace"):
        store.apply([Entity(name="user", join_keys=["user_id"]), view])
    assert store.list_feature_views() == []


def _write_one(store: FeatureStore, view_name: str) -> None:
    import pandas as pd

    store.write(
        view_name,
        pd.DataFrame(
            {
                "user_id": [1],
                "event_timestamp": pd.to_datetime(["2024-01-01"], utc=True),
                "spend_7d": [1.0],
                "n_orders": [1],
            }
        ),
    )


def _written_view(store: FeatureStore, user: Entity, feature_ns: str) -> FeatureView:
    view = make_view(table=f"{feature_ns}.user_spend")
    store.apply([user, view])
    _write_one(store, view.name)  # the store creates its table
    return view


def test_an_entity_change_is_checked_against_its_views_tables(
    store: FeatureStore, user: Entity, feature_ns: str
) -> None:
    # The view itself is unchanged, but its entity now declares a key type its table lacks.
    _written_view(store, user, feature_ns)
    retyped = user.model_copy(update={"key_dtypes": {"user_id": "string"}})
    with pytest.raises(DefinitionError, match="join key 'user_id' is declared 'string'"):
        store.apply([retyped])
    assert store.get_entity("user").key_dtypes == {}


def test_a_second_view_cannot_take_over_a_store_table(
    store: FeatureStore, user: Entity, feature_ns: str
) -> None:
    view = _written_view(store, user, feature_ns)
    copy = make_view(name="user_spend_v2", table=view.table)
    with pytest.raises(DefinitionError, match="created the table for feature view 'user_spend'"):
        store.apply([copy])
    assert [v.name for v in store.list_feature_views()] == ["user_spend"]


def test_a_stored_definition_that_no_longer_validates_spoils_only_itself(
    store: FeatureStore, user: Entity, view: FeatureView
) -> None:
    # e.g. written by a newer featurestore with a dtype this one does not know
    import json
    from dataclasses import replace

    from featurestore.registry.storage import RegistryRow, _append

    other = make_view(name="other", table="features.other")
    store.apply([user, view, other])
    stored = json.loads(other.model_dump_json())
    stored["features"][0]["dtype"] = "money"
    table = store.catalog.load_table(store.system_table_name("registry"))
    row = RegistryRow(kind="feature_view", name="other", version=2, definition=json.dumps(stored))
    _append(table, [row], operation="a row from another version")
    assert store.get_feature_view("user_spend") == view
    assert [v.name for v in store.list_feature_views()] == ["user_spend"]
    with pytest.raises(DefinitionError, match="'other' version 2 no longer validates"):
        store.get_feature_view("other")
    assert store.apply([other]).updated == ["other"]  # the advised repair works
    assert store.get_feature_view("other") == other
    table = store.catalog.load_table(store.system_table_name("registry"))
    _append(table, [replace(row, version=4)], operation="broken again")
    store.delete_feature_view("other", force=True)  # removable without parsing it
    assert [v.name for v in store.list_feature_views()] == ["user_spend"]
