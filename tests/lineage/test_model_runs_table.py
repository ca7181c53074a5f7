"""The model_runs table: schema, round trip, uniqueness, reads that never create it."""

from __future__ import annotations

import multiprocessing
from typing import TYPE_CHECKING, Any

import pytest
from lineage_helpers import make_run
from lineage_setup import entity_rows, setup_view

from featurestore.errors import (
    AlreadyExistsError,
    DataValidationError,
    DefinitionError,
    NotFoundError,
)
from featurestore.lineage.models import normalize_version, validate_model
from featurestore.lineage.runs import ModelRuns
from featurestore.lineage.table import (
    MODEL_RUNS,
    append_if_absent,
    load_runs_table,
    read_runs,
    row_to_run,
    run_to_arrow,
)

if TYPE_CHECKING:
    from featurestore.store import FeatureStore


def test_record_round_trips_through_arrow() -> None:
    run = make_run()
    assert row_to_run(run_to_arrow(run).to_pylist()[0]) == run


def test_reads_before_first_log_do_not_create_the_table(store: FeatureStore) -> None:
    runs = ModelRuns(store)
    assert runs.list() == []
    assert runs.list(model="churn", feature_view="spend") == []
    with pytest.raises(NotFoundError, match="model run"):
        runs.get("churn", 1)
    assert load_runs_table(store) is None
    assert store.feature_view_consumers("spend") == []


def test_append_then_read_back_every_field(store: FeatureStore) -> None:
    run = make_run()
    append_if_absent(store, run)
    table = load_runs_table(store)
    assert table is not None
    assert table.name()[-1] == MODEL_RUNS
    assert table.properties["commit.retry.num-retries"] == "0"
    assert read_runs(table) == [run]
    assert ModelRuns(store).get("churn", "1") == run
    assert ModelRuns(store).get("churn", 1) == run


def test_second_log_of_same_version_is_refused(store: FeatureStore) -> None:
    append_if_absent(store, make_run())
    with pytest.raises(AlreadyExistsError, match=r"'churn' version '1' is already logged"):
        append_if_absent(store, make_run(description="other"))
    table = load_runs_table(store)
    assert table is not None
    assert len(read_runs(table)) == 1
    assert read_runs(table)[0].description == "weekly retrain"


def test_list_filters_by_model_and_feature_view(store: FeatureStore) -> None:
    other_view = make_run().views[0].model_copy(update={"alias": "clicks", "view": "clicks"})
    append_if_absent(store, make_run("churn", "1"))
    append_if_absent(store, make_run("churn", "2", views=(other_view,)))
    append_if_absent(store, make_run("fraud", "1.0.0"))
    runs = ModelRuns(store)
    assert [r.key for r in runs.list()] == [("churn", "1"), ("churn", "2"), ("fraud", "1.0.0")]
    assert [r.key for r in runs.list(model="churn")] == [("churn", "1"), ("churn", "2")]
    assert [r.key for r in runs.list(feature_view="clicks")] == [("churn", "2")]
    assert [r.key for r in store.feature_view_consumers("spend")] == [
        ("churn", "1"),
        ("fraud", "1.0.0"),
    ]


def test_get_unknown_version_suggests_close_ones(store: FeatureStore) -> None:
    append_if_absent(store, make_run("churn", "1.2.0"))
    with pytest.raises(NotFoundError, match=r"Did you mean 'churn 1\.2\.0'\?") as info:
        ModelRuns(store).get("churn", "1.2.1")
    assert info.value.candidates == ["churn 1.2.0"]


@pytest.mark.parametrize("model", ["", "1abc", "a b", "x" * 65, "a.b", None])
def test_invalid_model_names_are_rejected(model: Any) -> None:
    with pytest.raises(DefinitionError, match="Invalid model name"):
        validate_model(model)


@pytest.mark.parametrize("version", ["", "-1", "1 2", "v/1", -1, True, 1.5])
def test_invalid_versions_are_rejected(version: Any) -> None:
    with pytest.raises(DefinitionError, match="Invalid model version"):
        normalize_version(version)


def test_valid_versions() -> None:
    assert [normalize_version(v) for v in (0, 3, "3", "1.2.0", "v2-rc_1")] == [
        "0",
        "3",
        "3",
        "1.2.0",
        "v2-rc_1",
    ]


def _log_in_process(config: dict[str, Any], version: str, barrier: Any, queue: Any) -> None:
    import featurestore

    store = featurestore.connect(**config)
    barrier.wait()
    try:
        append_if_absent(store, make_run("race", version, description=str(id(store))))
    except AlreadyExistsError:
        queue.put("exists")
    except Exception as exc:  # reported to the parent, which fails the test with it
        queue.put(f"error: {exc!r}")
    else:
        queue.put("logged")


def _config(store: FeatureStore) -> dict[str, Any]:
    if store.config.is_embedded:
        return {"home": store.config.home, "namespace": store.namespace}
    return {"catalog": dict(store.config.catalog), "namespace": store.namespace}


def test_concurrent_processes_log_one_version_once(store: FeatureStore) -> None:
    append_if_absent(store, make_run("race", "0"))  # the table exists: the race is on the row
    context = multiprocessing.get_context("spawn")
    workers = 4
    barrier = context.Barrier(workers)
    queue = context.Queue()
    procs = [
        context.Process(target=_log_in_process, args=(_config(store), "1", barrier, queue))
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    results = sorted(queue.get(timeout=120) for _ in procs)
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    assert results == ["exists"] * (workers - 1) + ["logged"]
    table = load_runs_table(store)
    assert table is not None
    assert [r.key for r in read_runs(table, model="race")] == [("race", "0"), ("race", "1")]


def test_concurrent_processes_log_distinct_versions_all(store: FeatureStore) -> None:
    assert store.catalog is not None  # the namespace exists; the processes race to create the table
    context = multiprocessing.get_context("spawn")
    workers = 4
    barrier = context.Barrier(workers)
    queue = context.Queue()
    procs = [
        context.Process(target=_log_in_process, args=(_config(store), str(i), barrier, queue))
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    assert results == ["logged"] * workers
    assert sorted(r.version for r in ModelRuns(store).list(model="race")) == ["0", "1", "2", "3"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"metrics": {"loss": float("inf")}}, "Invalid metric 'loss': inf"),
        ({"description": 123}, "description must be a string or None, not int"),
        ({"mlflow_run_id": 7}, "mlflow_run_id must be a string or None, not int"),
    ],
)
def test_bad_log_arguments_are_named_and_write_nothing(
    store: FeatureStore, feature_ns: str, options: dict[str, Any], message: str
) -> None:
    setup_view(store, feature_ns)
    training = store.get_historical_features(entity_rows(), ["spend:*"])
    with pytest.raises(DataValidationError, match=message):
        store.log_model_run("churn", 1, training, **options)
    with pytest.raises(DataValidationError, match=r"must be the TrainingSet .* not Table"):
        store.log_model_run("churn", 1, training.to_arrow())
    assert store.list_model_runs() == []
