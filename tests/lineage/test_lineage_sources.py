"""Source snapshots of computed features, the caller's git commit, and entity-set storage."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pytest
from lineage_setup import entity_rows

from featurestore import Entity, Feature, FeatureView
from featurestore.catalog import ensure_namespace
from featurestore.errors import CatalogError, DataValidationError
from featurestore.lineage.entity_sets import (
    drop_entity_set,
    entity_set_name,
    read_entity_set,
    save_entity_set,
)
from featurestore.lineage.git import git_commit
from featurestore.lineage.sources import SOURCE_SNAPSHOTS_KEY, source_snapshots

if TYPE_CHECKING:
    from pathlib import Path

    from featurestore.store import FeatureStore

SQL = "SELECT user_id, ts AS event_timestamp, amount * 2 AS doubled FROM {raw}"


def day(d: int) -> datetime:
    return datetime(2024, 1, d, tzinfo=UTC)


def test_computed_features_record_their_source_snapshots(
    store: FeatureStore, feature_ns: str
) -> None:
    raw_ns = f"{feature_ns}_raw"
    ensure_namespace(store.catalog, raw_ns)
    raw = store.catalog.create_table(
        f"{raw_ns}.tx",
        schema=pa.schema(
            [("user_id", pa.int64()), ("ts", pa.timestamp("us", "UTC")), ("amount", pa.float64())]
        ),
    )
    raw.append(pa.table({"user_id": [1, 2], "ts": [day(1), day(2)], "amount": [1.0, 2.0]}))
    raw_snapshot = raw.current_snapshot()
    assert raw_snapshot is not None
    view = FeatureView(
        name="doubled",
        entities=["user"],
        table=f"{feature_ns}.doubled",
        features=[Feature(name="doubled", dtype="float64")],
    )
    store.apply([Entity(name="user", join_keys=["user_id"]), view])
    store.materialize("doubled", SQL.format(raw=f"{raw_ns}.tx"), start=day(1), end=day(3))
    materialized = store.load_table(view.table).current_snapshot()
    assert materialized is not None
    later = pa.table(  # a plain write on top keeps the materialisation's lineage
        {
            "user_id": pa.array([3], pa.int64()),
            "event_timestamp": pa.array([day(3)], pa.timestamp("us", "UTC")),
            "doubled": pa.array([6.0], pa.float64()),
        }
    )
    store.write("doubled", later)

    training = store.get_historical_features(entity_rows(), ["doubled:*"])
    run = store.log_model_run("m", "1", training)
    record = run.views[0]
    assert record.source_snapshots == {f"{raw_ns}.tx": raw_snapshot.snapshot_id}
    assert record.source_write_snapshot_id == materialized.snapshot_id
    assert record.snapshot_id != materialized.snapshot_id


def test_direct_writes_have_no_source_snapshots(store: FeatureStore, feature_ns: str) -> None:
    from lineage_setup import log_run, setup_view

    setup_view(store, feature_ns)
    _, run = log_run(store, ["spend:*"])
    assert run.views[0].source_snapshots == {}
    assert run.views[0].source_write_snapshot_id is None


@pytest.mark.parametrize("catalog_kind", ["sqlite"], indirect=True)
def test_malformed_source_snapshots_are_an_error(store: FeatureStore, feature_ns: str) -> None:
    table = store.catalog.create_table(f"{feature_ns}.t", schema=pa.schema([("x", pa.int64())]))
    table.append(pa.table({"x": [1]}), snapshot_properties={SOURCE_SNAPSHOTS_KEY: "[1, 2]"})
    snapshot = table.current_snapshot()
    assert snapshot is not None
    with pytest.raises(CatalogError, match="malformed"):
        source_snapshots(table, snapshot.snapshot_id)
    assert source_snapshots(table, None) == ({}, None)


@pytest.mark.parametrize("catalog_kind", ["sqlite"], indirect=True)
def test_entity_set_keeps_order_and_types(store: FeatureStore, mixed_entities: pa.Table) -> None:
    name = entity_set_name(store, "churn-x", "1.2.0")
    assert name.startswith(f"{store.namespace}.entity_set__churn_x__v1_2_0__")
    snapshot = save_entity_set(store, name, mixed_entities, model="churn-x", version="1.2.0")
    assert read_entity_set(store, name, snapshot).equals(mixed_entities)
    drop_entity_set(store, name)
    assert not store.catalog.table_exists(name)


@pytest.mark.parametrize("catalog_kind", ["sqlite"], indirect=True)
def test_entity_set_with_unsupported_type_leaves_no_table(store: FeatureStore) -> None:
    name = entity_set_name(store, "m", "1")
    bad = pa.table({"user_id": pa.array([1], pa.uint64()), "nothing": pa.array([None], pa.null())})
    with pytest.raises(DataValidationError, match="Iceberg"):
        save_entity_set(store, name, bad, model="m", version="1")
    assert not store.catalog.table_exists(name)


def test_git_commit_of_a_work_tree(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    assert git_commit(tmp_path) is None  # not a work tree
    env = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert git_commit(tmp_path) is None  # no commit yet
    (tmp_path / "a.txt").write_text("a")
    subprocess.run(["git", "-C", str(tmp_path), "add", "a.txt"], check=True)
    subprocess.run(["git", "-C", str(tmp_path), *env, "commit", "-qm", "a"], check=True)
    head = subprocess.run(
        ["git", "-C", str(tmp_path), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert git_commit(tmp_path) == head
    (tmp_path / "a.txt").write_text("changed")
    assert git_commit(tmp_path) == f"{head}-dirty"


def test_git_commit_without_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert git_commit(tmp_path) is None


def test_logged_run_records_the_callers_commit(
    store: FeatureStore, feature_ns: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lineage_setup import log_run, setup_view

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    work = tmp_path / "repo"
    work.mkdir()
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(work),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
        check=True,
    )
    head = subprocess.run(
        ["git", "-C", str(work), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    monkeypatch.chdir(work)
    setup_view(store, feature_ns)
    _, run = log_run(store, ["spend:*"])
    assert run.git_commit == head
