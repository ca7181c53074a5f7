"""Fixtures of the write tests: a registered user entity and a spend feature view."""

from __future__ import annotations

from typing import Any

import pytest

from featurestore import Entity, Feature, FeatureView


@pytest.fixture
def spend_view(store: Any, feature_ns: str) -> FeatureView:
    view = FeatureView(
        name="user_spend",
        entities=["user"],
        table=f"{feature_ns}.user_spend",
        features=[Feature(name="spend", dtype="float64")],
    )
    store.apply([Entity(name="user", join_keys=["user_id"]), view])
    return view
