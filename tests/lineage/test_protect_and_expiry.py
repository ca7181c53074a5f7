"""Expired snapshots make reproduction fail clearly; protect_model_run keeps them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pytest
from lineage_setup import day, log_run, setup_view

from featurestore.errors import SnapshotNotFoundError

if TYPE_CHECKING:
    from featurestore.store import FeatureStore


def expire(store: FeatureStore, table_name: str, snapshot_id: int) -> None:
    """Expire one snapshot the way a maintenance job does (PyIceberg expire_snapshots)."""
    table = store.load_table(table_name)
    table.maintenance.expire_snapshots().by_id(snapshot_id).commit()
    assert store.load_table(table_name).snapshot_by_id(snapshot_id) is None


def write_more(store: FeatureStore) -> None:
    more = pa.table(
        {
            "user_id": pa.array([3], pa.int64()),
            "event_timestamp": pa.array([day(4)], pa.timestamp("us", "UTC")),
            "spend_amount": pa.array([9.0], pa.float64()),
        }
    )
    store.write("spend", more)


def test_expired_feature_snapshot_is_named(store: FeatureStore, feature_ns: str) -> None:
    setup_view(store, feature_ns)
    _, run = log_run(store, ["spend:*"])
    write_more(store)  # the run's snapshot is no longer current, so it can expire
    used = run.views[0].snapshot_id
    assert used is not None
    expire(store, run.views[0].table, used)
    with pytest.raises(SnapshotNotFoundError, match="protect_model_run") as info:
        store.reproduce_training_set("churn", "1")
    assert str(used) in str(info.value)
    assert run.views[0].table in str(info.value)
    assert info.value.snapshot_id == used  # type: ignore[attr-defined]
    assert info.value.table == run.views[0].table  # type: ignore[attr-defined]


def test_protect_tags_every_needed_snapshot(store: FeatureStore, feature_ns: str) -> None:
    setup_view(store, feature_ns)
    _, run = log_run(store, ["spend:*"])
    tags = store.protect_model_run("churn", 1)
    registry_table = store.system_table_name("registry")
    assert tags == {
        run.entity_table: "fs-model:churn:1",
        run.views[0].table: "fs-model:churn:1",
        registry_table: "fs-model:churn:1",
    }
    for table_name, snapshot_id in (
        (run.entity_table, run.entity_snapshot_id),
        (run.views[0].table, run.views[0].snapshot_id),
        (registry_table, run.registry_snapshot_id),
    ):
        ref = store.load_table(table_name).metadata.refs["fs-model:churn:1"]
        assert ref.snapshot_id == snapshot_id
    assert store.protect_model_run("churn", 1) == tags  # idempotent


def test_protected_snapshots_survive_expiry(store: FeatureStore, feature_ns: str) -> None:
    setup_view(store, feature_ns)
    training, run = log_run(store, ["spend:*"])
    store.protect_model_run("churn", "1")
    write_more(store)
    used = run.views[0].snapshot_id
    assert used is not None
    table = store.load_table(run.views[0].table)
    with pytest.raises(ValueError, match="protected"):
        table.maintenance.expire_snapshots().by_id(used).commit()
    older = [s.snapshot_id for s in table.snapshots() if s.snapshot_id != used]
    current = table.current_snapshot()
    assert current is not None
    for snapshot_id in older:
        if snapshot_id != current.snapshot_id:
            expire(store, run.views[0].table, snapshot_id)
    rebuilt = store.reproduce_training_set("churn", "1")
    assert rebuilt.content_hash() == run.content_hash == training.content_hash()


def test_expired_entity_set_snapshot_is_named(store: FeatureStore, feature_ns: str) -> None:
    setup_view(store, feature_ns)
    _, run = log_run(store, ["spend:*"])
    entity_table = store.load_table(run.entity_table)
    entity_table.append(entity_table.scan().to_arrow().slice(0, 1))  # a later snapshot
    assert run.entity_snapshot_id is not None
    expire(store, run.entity_table, run.entity_snapshot_id)
    with pytest.raises(SnapshotNotFoundError, match=r"entity_set__churn__v1__") as info:
        store.reproduce_training_set("churn", "1")
    assert str(run.entity_snapshot_id) in str(info.value)
    with pytest.raises(SnapshotNotFoundError):
        store.protect_model_run("churn", "1")


def test_a_differing_rebuild_says_what_differs(store: FeatureStore, feature_ns: str) -> None:
    from featurestore.errors import ReproducibilityError
    from featurestore.lineage.reproduce import verify

    setup_view(store, feature_ns)
    training, run = log_run(store, ["spend:*"])
    verify(run, training)  # the logged record matches its own training set
    tampered = run.model_copy(
        update={"row_count": 4, "content_hash": "sha256:00", "output_columns": ("user_id", "x")}
    )
    with pytest.raises(ReproducibilityError) as info:
        verify(tampered, training)
    message = str(info.value)
    assert "row count 3 != recorded 4" in message
    assert "missing ['x']" in message
    assert "content hash sha256:" in message


def test_protection_tags_of_different_runs_never_collide() -> None:
    from featurestore.lineage.models import protection_tag

    assert protection_tag("a", "1-v2") != protection_tag("a-v1", "2")
