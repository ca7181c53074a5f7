"""Each invalid definition fails on construction or in apply, with a message that names it."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import ValidationError
from registry_defs import make_view

from featurestore import DefinitionError
from featurestore.registry.models import Entity, Feature, FeatureView, validate_definitions

if TYPE_CHECKING:
    from featurestore.store import FeatureStore


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Entity(name="drop table;--"), "Invalid entity name 'drop table;--'"),
        (lambda: Entity(name="user", join_keys=["id; --"]), "Invalid join key 'id; --'"),
        (lambda: Feature(name="../etc", dtype="int64"), "Invalid feature name '../etc'"),
        (lambda: make_view(name="x y"), "Invalid feature view name 'x y'"),
        (lambda: make_view(table="features"), "Invalid table name 'features'"),
        (lambda: make_view(table="f.a/b"), "Invalid table name 'a/b'"),
        (lambda: make_view(entities=["u-1"]), "Invalid entity name 'u-1'"),
        (lambda: make_view(timestamp_field="ts'"), 'Invalid timestamp field "ts\'"'),
        (
            lambda: Feature(name="x", dtype="int128"),
            r"Unsupported dtype 'int128'\. Valid dtypes: int32",
        ),
        (lambda: Feature(name="x", dtype="decimal(40,2)"), "decimal precision must be 1..38"),
        (lambda: make_view(ttl=timedelta(days=-1)), "Invalid ttl .*must be positive"),
        (lambda: make_view(ttl=timedelta(0)), "Invalid ttl"),
        (
            lambda: make_view(features=[Feature(name="a", dtype="int64")] * 2),
            "duplicate feature names 'a'",
        ),
        (lambda: make_view(features=[]), "give at least one feature"),
        (lambda: make_view(entities=[]), "give at least one entity"),
        (
            lambda: make_view(features=[Feature(name="event_timestamp", dtype="timestamp")]),
            "collide with its timestamp/system columns",
        ),
        (lambda: make_view(field_mapping={"a b": "spend_7d"}), "field_mapping source column"),
        (lambda: make_view(colour="red"), "Extra inputs are not permitted"),
        (
            lambda: Entity(name="user", key_dtypes={"user": "list<int64>"}),
            r"join keys \['user'\] have list dtypes",
        ),
    ],
)
def test_invalid_definition_has_clear_message(build: Any, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        build()


def test_definition_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="Invalid entity name"):
        Entity(name="1user")


def test_definitions_are_frozen() -> None:
    with pytest.raises(ValidationError, match="frozen"):
        Entity(name="user").name = "other"  # type: ignore[misc]


def test_set_validation_lists_every_problem() -> None:
    user = Entity(name="user", join_keys=["user_id"])
    clash = make_view(name="clash", features=[Feature(name="user_id", dtype="int64")])
    orphan = make_view(name="orphan", entities=["merchant"])
    with pytest.raises(DefinitionError) as info:
        validate_definitions([user, clash, orphan])
    text = str(info.value)
    assert "join keys ['user_id'] collide" in text
    assert "feature view 'orphan' uses unknown entities ['merchant'] (known: ['user'])" in text


def test_apply_reports_set_problems_before_writing(store: FeatureStore) -> None:
    user = Entity(name="user", join_keys=["user_id"])
    clash = make_view(name="clash", features=[Feature(name="user_id", dtype="int64")])
    with pytest.raises(DefinitionError, match="collide"):
        store.apply([user, clash])
    assert store.list_entities() == []


def test_join_key_change_of_registered_entity_is_checked_against_views(
    store: FeatureStore,
) -> None:
    store.apply([Entity(name="user", join_keys=["user_id"]), make_view()])
    renamed = Entity(name="user", join_keys=["spend_7d"])
    with pytest.raises(DefinitionError, match="join keys \\['spend_7d'\\] collide"):
        store.apply(renamed)


def test_view_kind_discriminates_stored_json() -> None:
    view = make_view()
    assert FeatureView.model_validate_json(view.model_dump_json()) == view
    assert view.kind == "batch"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"created_timestamp_field": "event_timestamp"}, "created_timestamp_field and timestamp"),
        ({"timestamp_field": "_ingested_at"}, "system column"),
        ({"created_timestamp_field": "_ingested_at"}, "system column"),
    ],
)
def test_timestamp_fields_cannot_clash(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        make_view(**changes)


@pytest.mark.parametrize("key", ["event_timestamp", "created", "_ingested_at"])
def test_join_keys_cannot_be_timestamp_or_system_columns(key: str) -> None:
    view = make_view(created_timestamp_field="created")
    with pytest.raises(DefinitionError, match="collide"):
        validate_definitions([Entity(name="user", join_keys=[key]), view])


def test_model_copy_and_json_validate_like_construction() -> None:
    feature = Feature(name="x", dtype="int64")
    with pytest.raises(DefinitionError, match="Unsupported dtype 'complex'"):
        feature.model_copy(update={"dtype": "complex"})
    with pytest.raises(DefinitionError, match="Invalid entity name '1bad'"):
        Entity.model_validate_json('{"name": "1bad"}')
