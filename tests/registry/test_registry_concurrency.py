"""Concurrent applies: all land or some get CommitConflictError; never half or duplicate writes."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from registry_defs import make_view

from featurestore import CommitConflictError
from featurestore.registry.models import Entity
from featurestore.registry.repository import Registry
from featurestore.registry.storage import commit_rows, read_rows
from featurestore.store import FeatureStore

if TYPE_CHECKING:
    from featurestore.config import StoreConfig

ROUNDS = 4


def _apply_rounds(config: StoreConfig, barrier: Any, worker: int, results: Any) -> None:
    store = FeatureStore(config)
    user = Entity(name="user", join_keys=["user_id"])
    landed = conflicts = 0
    barrier.wait()  # both processes create the registry table and apply at the same moment
    for i in range(ROUNDS):
        try:
            store.apply([user, make_view(description=f"worker {worker} round {i}")])
            landed += 1
        except CommitConflictError:
            conflicts += 1
    results.put((worker, landed, conflicts))


def _all_rows(store: FeatureStore) -> list[Any]:
    table = store.catalog.load_table(store.system_table_name("registry"))
    return read_rows(table, table.current_snapshot().snapshot_id)


def test_two_processes_apply_at_once(store_factory: Any) -> None:
    store = store_factory()
    # The system namespace exists first: the race under test is the registry table and its rows.
    assert store.registry().snapshot_id is None
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = [
        ctx.Process(target=_apply_rounds, args=(store.config, barrier, w, results)) for w in (1, 2)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=300)
    assert [p.exitcode for p in workers] == [0, 0]
    outcomes = [results.get(timeout=5) for _ in workers]
    landed = sum(o[1] for o in outcomes)
    assert landed + sum(o[2] for o in outcomes) == 2 * ROUNDS
    assert landed >= ROUNDS  # conflicts only after 8 lost races in a row
    rows = _all_rows(store)
    keys = Counter((r.kind, r.name, r.version) for r in rows)
    assert max(keys.values()) == 1, "a (kind, name, version) was written twice"
    view_versions = sorted(r.version for r in rows if r.kind == "feature_view")
    assert view_versions == list(range(1, landed + 1))  # every landed apply is one version
    assert [r.version for r in rows if r.kind == "entity"] == [1]
    table = store.catalog.load_table(store.system_table_name("registry"))
    assert len(table.snapshots()) == landed  # one snapshot per apply, none half-written
    assert store.get_feature_view("user_spend").description.startswith("worker ")


def test_lost_race_recomputes_versions(store_factory: Any) -> None:
    store, rival = store_factory(), store_factory()
    user = Entity(name="user", join_keys=["user_id"])
    store.apply([user, make_view()])
    calls = []

    def plan(table: Any, rows: list[Any]) -> tuple[list[Any], int]:
        from featurestore.registry.planner import row_for

        if not calls:  # a real concurrent commit lands between our read and our commit
            rival.apply(make_view(description="rival"))
        calls.append(len(rows))
        latest = max(r.version for r in rows if r.kind == "feature_view")
        return [row_for(make_view(description="ours"), latest + 1)], latest + 1

    version, snapshot_id = commit_rows(
        store.catalog, store.system_table_name("registry"), plan, operation="testing", attempts=2
    )
    assert calls == [2, 3]  # the second attempt saw the rival's row
    assert version == 3
    assert snapshot_id == store.registry().snapshot_id
    assert [
        (r.version, r.description) for r in store._registry.history("feature_view", "user_spend")
    ] == [
        (1, "Spend of a user over the last week"),
        (2, "rival"),
        (3, "ours"),
    ]


def test_conflict_error_after_retries_writes_nothing(store_factory: Any) -> None:
    store, rival = store_factory(), store_factory()
    store.apply(Entity(name="user", join_keys=["user_id"]))
    registry = Registry(store, max_attempts=1)
    rival_view = make_view(description="rival")

    def plan(table: Any, rows: list[Any]) -> tuple[list[Any], None]:
        from featurestore.registry.planner import row_for

        rival.apply(rival_view)
        return [row_for(make_view(description="ours"), 1)], None

    with pytest.raises(CommitConflictError, match="other writers committed first 1 times"):
        registry._commit(plan, operation="testing")
    rows = _all_rows(store)
    assert [(r.name, r.version) for r in rows if r.kind == "feature_view"] == [("user_spend", 1)]
    assert store.get_feature_view("user_spend") == rival_view
