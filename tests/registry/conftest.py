"""Fixtures of the registry tests (the definitions live in ``registry_defs``)."""

from __future__ import annotations

import pytest
from registry_defs import make_view

from featurestore.registry.models import Entity, FeatureView


@pytest.fixture
def user() -> Entity:
    return Entity(name="user", join_keys=["user_id"], description="A customer")


@pytest.fixture
def view() -> FeatureView:
    return make_view()
