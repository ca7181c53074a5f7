"""Consumers of a feature view, and deleting a view that logged runs used."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from lineage_setup import log_run, setup_view

from featurestore.errors import DefinitionError, NotFoundError

if TYPE_CHECKING:
    from featurestore.store import FeatureStore


def test_consumers_and_delete_guard(store: FeatureStore, feature_ns: str) -> None:
    setup_view(store, feature_ns, "spend")
    setup_view(store, feature_ns, "clicks")
    log_run(store, ["spend:*"], "churn", "1")
    log_run(store, ["spend:*", "clicks:*"], "churn", "2")
    log_run(store, ["clicks:*"], "fraud", "1")
    assert [r.key for r in store.feature_view_consumers("spend")] == [
        ("churn", "1"),
        ("churn", "2"),
    ]
    assert [r.key for r in store.list_model_runs(feature_view="clicks")] == [
        ("churn", "2"),
        ("fraud", "1"),
    ]
    assert store.feature_view_consumers("nothing") == []
    with pytest.raises(DefinitionError, match=r"'spend' is used by 2 logged model run\(s\)"):
        store.delete_feature_view("spend")
    assert store.get_feature_view("spend").name == "spend"
    store.delete_feature_view("spend", force=True)
    with pytest.raises(NotFoundError):
        store.get_feature_view("spend")
    rebuilt = store.reproduce_training_set("churn", "1")  # the registry snapshot still has it
    assert rebuilt.content_hash() == store.get_model_run("churn", "1").content_hash


def test_delete_unused_view_needs_no_force(store: FeatureStore, feature_ns: str) -> None:
    setup_view(store, feature_ns, "spend")
    setup_view(store, feature_ns, "clicks")
    log_run(store, ["spend:*"])
    store.delete_feature_view("clicks")
    with pytest.raises(NotFoundError):
        store.get_feature_view("clicks")
