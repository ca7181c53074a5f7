"""Two processes log the same (model, version) through the full path: exactly one wins."""

from __future__ import annotations

import multiprocessing
from typing import TYPE_CHECKING, Any

from lineage_setup import entity_rows, setup_view

if TYPE_CHECKING:
    from featurestore.store import FeatureStore


def _log(config: dict[str, Any], barrier: Any, queue: Any) -> None:
    import featurestore
    from featurestore.errors import AlreadyExistsError

    store = featurestore.connect(**config)
    training = store.get_historical_features(entity_rows(), ["spend:*"])
    barrier.wait()
    try:
        run = store.log_model_run("churn", "7", training)
    except AlreadyExistsError:
        queue.put(("exists", None))
    except Exception as exc:  # reported to the parent, which fails the test with it
        queue.put((f"error: {exc!r}", None))
    else:
        queue.put(("logged", run.entity_table))


def test_two_processes_log_one_version_once(store: FeatureStore, feature_ns: str) -> None:
    setup_view(store, feature_ns)
    if store.config.is_embedded:
        config: dict[str, Any] = {"home": store.config.home, "namespace": store.namespace}
    else:
        config = {"catalog": dict(store.config.catalog), "namespace": store.namespace}
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    queue = context.Queue()
    procs = [context.Process(target=_log, args=(config, barrier, queue)) for _ in range(2)]
    for proc in procs:
        proc.start()
    results = sorted(queue.get(timeout=180) for _ in procs)
    for proc in procs:
        proc.join(timeout=60)
    assert [status for status, _ in results] == ["exists", "logged"]
    winner = results[1][1]
    runs = store.list_model_runs(model="churn")
    assert [(r.version, r.entity_table) for r in runs] == [("7", winner)]
    entity_tables = [
        ".".join(t)
        for t in store.catalog.list_tables(store.namespace)
        if t[-1].startswith("entity_set__")
    ]
    assert entity_tables == [winner]
    assert store.reproduce_training_set("churn", "7").content_hash() == runs[0].content_hash
