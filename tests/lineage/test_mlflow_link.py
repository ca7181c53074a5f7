"""MLflow integration against a local SQLite tracking store (no server)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from lineage_setup import entity_rows, setup_view

from featurestore.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from featurestore.store import FeatureStore

mlflow = pytest.importorskip("mlflow")


@pytest.fixture
def tracking(tmp_path: Path) -> Any:
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("featurestore-tests")
    yield mlflow.MlflowClient()
    if mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.mark.parametrize("catalog_kind", ["sqlite"], indirect=True)
def test_log_training_set_to_the_active_run(
    store: FeatureStore, feature_ns: str, tracking: Any
) -> None:
    from featurestore.integrations.mlflow import log_training_set

    setup_view(store, feature_ns)
    training = store.get_historical_features(entity_rows(), ["spend:*"])
    with mlflow.start_run() as active:
        assert log_training_set(training) == active.info.run_id
    data = tracking.get_run(active.info.run_id).data
    snapshot = training.views[0].snapshot_id
    assert data.params["featurestore.content_hash"] == training.content_hash()
    assert data.params["featurestore.row_count"] == str(training.num_rows)
    assert data.params["featurestore.snapshot.spend"] == f"{training.views[0].table}@{snapshot}"
    assert data.params["featurestore.registry_snapshot_id"] == str(training.registry_snapshot_id)
    assert json.loads(data.tags["featurestore.feature_refs"]) == list(training.feature_refs)
    artifact = mlflow.artifacts.load_dict(
        f"{tracking.get_run(active.info.run_id).info.artifact_uri}/featurestore/training_set.json"
    )
    assert artifact["snapshots"]["spend"]["snapshot_id"] == snapshot


@pytest.mark.parametrize("catalog_kind", ["sqlite"], indirect=True)
def test_model_run_and_mlflow_run_link_both_ways(
    store: FeatureStore, feature_ns: str, tracking: Any
) -> None:
    setup_view(store, feature_ns)
    with mlflow.start_run() as active:
        pass
    training = store.get_historical_features(entity_rows(), ["spend:*"])
    run = store.log_model_run("churn", "4", training, mlflow_run_id=active.info.run_id)
    assert store.get_model_run("churn", "4").mlflow_run_id == active.info.run_id
    tags = tracking.get_run(active.info.run_id).data.tags
    assert tags["featurestore.model"] == "churn"
    assert tags["featurestore.version"] == "4"
    assert tags["featurestore.content_hash"] == run.content_hash


@pytest.mark.parametrize("catalog_kind", ["sqlite"], indirect=True)
def test_unknown_mlflow_run_is_refused_before_logging(
    store: FeatureStore, feature_ns: str, tracking: Any
) -> None:
    setup_view(store, feature_ns)
    training = store.get_historical_features(entity_rows(), ["spend:*"])
    with pytest.raises(NotFoundError, match="MLflow run 'f00'"):
        store.log_model_run("churn", "5", training, mlflow_run_id="f00")
    assert store.list_model_runs() == []


@pytest.mark.parametrize("catalog_kind", ["sqlite"], indirect=True)
def test_no_active_run_is_an_error(store: FeatureStore, feature_ns: str, tracking: Any) -> None:
    from featurestore.integrations.mlflow import log_training_set

    setup_view(store, feature_ns)
    training = store.get_historical_features(entity_rows(), ["spend:*"])
    with pytest.raises(ConfigError, match="No active MLflow run"):
        log_training_set(training)


@pytest.mark.parametrize("catalog_kind", ["sqlite"], indirect=True)
def test_without_mlflow_installed(
    store: FeatureStore, feature_ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from featurestore.integrations.mlflow import log_training_set

    setup_view(store, feature_ns)
    training = store.get_historical_features(entity_rows(), ["spend:*"])
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` now raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'featurestore\[mlflow\]'"):
        log_training_set(training, run_id="abc")
    run = store.log_model_run("churn", "6", training, mlflow_run_id="abc")
    assert store.get_model_run("churn", "6").mlflow_run_id == run.mlflow_run_id == "abc"


def test_unreachable_tracking_server_is_not_a_missing_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    from featurestore.errors import CatalogUnavailableError
    from featurestore.integrations.mlflow import check_run_exists

    with socket.socket() as probe:  # a free port: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"http://alice:tok3n@127.0.0.1:{port}")
    try:
        with pytest.raises(CatalogUnavailableError, match=r"alice:\*+@127\.0\.0\.1") as caught:
            check_run_exists("abc123")
    finally:
        mlflow.set_tracking_uri(previous)
    assert not isinstance(caught.value, NotFoundError)
    assert "tok3n" not in str(caught.value)


@pytest.mark.parametrize("catalog_kind", ["sqlite"], indirect=True)
def test_failed_mlflow_tagging_does_not_fail_the_logged_run(
    store: FeatureStore,
    feature_ns: str,
    tracking: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from mlflow.exceptions import MlflowException

    setup_view(store, feature_ns)
    with mlflow.start_run() as active:
        pass
    training = store.get_historical_features(entity_rows(), ["spend:*"])

    def refuse(*args: Any, **kwargs: Any) -> None:
        message = "tracking server went away"
        raise MlflowException(message)

    monkeypatch.setattr(mlflow.MlflowClient, "set_tag", refuse)
    with caplog.at_level("WARNING", logger="featurestore"):
        run = store.log_model_run("churn", "7", training, mlflow_run_id=active.info.run_id)
    assert store.get_model_run("churn", "7") == run
    assert "tagging MLflow run" in caplog.text
    assert "tracking server went away" in caplog.text
