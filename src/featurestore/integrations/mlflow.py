"""MLflow integration (optional extra: ``pip install 'featurestore[mlflow]'``).

:func:`log_training_set` writes a training set's lineage into an MLflow run: params
``featurestore.content_hash``, ``featurestore.row_count``, ``featurestore.registry_snapshot_id``
and ``featurestore.snapshot.<alias>`` (``<table>@<snapshot_id>``), the tag
``featurestore.feature_refs`` (JSON), and the artifact ``featurestore/training_set.json``.

``store.log_model_run(..., mlflow_run_id=...)`` links both ways: the model run stores the MLflow
run ID and, when MLflow is importable, the MLflow run gets the tags ``featurestore.model`` and
``featurestore.version``. Without MLflow installed the ID is only recorded.

MLflow is imported lazily (it takes seconds); nothing here runs at ``import featurestore``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from featurestore.config import mask_uri
from featurestore.errors import (
    CatalogUnavailableError,
    ConfigError,
    FeatureStoreError,
    NotFoundError,
)

if TYPE_CHECKING:
    from featurestore.lineage.models import ModelRun
    from featurestore.retrieval.training_set import TrainingSet

__all__ = ["check_run_exists", "link_model_run", "log_training_set", "training_set_lineage"]

_INSTALL = "pip install 'featurestore[mlflow]'"


def training_set_lineage(training_set: TrainingSet) -> dict[str, Any]:
    """The lineage of a training set as plain data (what :func:`log_training_set` logs).

    Example:
        >>> training_set_lineage(training_set)["content_hash"]  # doctest: +SKIP
        'sha256:...'
    """
    return {
        "content_hash": training_set.content_hash(),
        "row_count": training_set.num_rows,
        "registry_snapshot_id": training_set.registry_snapshot_id,
        "feature_refs": list(training_set.feature_refs),
        "point_in_time": training_set.point_in_time,
        "snapshots": {
            v.alias: {"view": v.view, "table": v.table, "snapshot_id": v.snapshot_id}
            for v in training_set.views
        },
    }


def log_training_set(training_set: TrainingSet, *, run_id: str | None = None) -> str:
    """Log snapshot IDs, feature refs, row count and content hash to an MLflow run.

    Args:
        training_set: The result of ``store.get_historical_features``.
        run_id: The MLflow run; default the active run (``mlflow.start_run()``).

    Returns:
        The MLflow run ID written to.

    Raises:
        ConfigError: MLflow is not installed, or there is no active run and no ``run_id``.
        NotFoundError: ``run_id`` does not exist in the tracking store.
        FeatureStoreError: MLflow refused a value (e.g. the params were logged before with
            other values: MLflow params are immutable; use a new run).

    Example:
        >>> import mlflow  # doctest: +SKIP
        >>> with mlflow.start_run():  # doctest: +SKIP
        ...     log_training_set(store.get_historical_features(entities, ["spend:*"]))
    """
    mlflow = _import_mlflow()
    if run_id is None:
        active = mlflow.active_run()
        if active is None:
            msg = (
                "No active MLflow run: wrap the call in `with mlflow.start_run():` or pass "
                "run_id=..."
            )
            raise ConfigError(msg)
        run_id = str(active.info.run_id)
    check_run_exists(run_id)
    lineage = training_set_lineage(training_set)
    params = {
        "featurestore.content_hash": lineage["content_hash"],
        "featurestore.row_count": lineage["row_count"],
        "featurestore.registry_snapshot_id": lineage["registry_snapshot_id"],
    }
    for alias, snap in lineage["snapshots"].items():
        params[f"featurestore.snapshot.{alias}"] = f"{snap['table']}@{snap['snapshot_id']}"
    client = mlflow.MlflowClient()
    with _translate(f"logging the training set to MLflow run {run_id!r}"):
        for key, value in params.items():
            client.log_param(run_id, key, str(value))
        client.set_tag(run_id, "featurestore.feature_refs", _fit(lineage["feature_refs"]))
        client.log_dict(run_id, lineage, "featurestore/training_set.json")
    return run_id


def check_run_exists(run_id: str) -> None:
    """Raise :class:`NotFoundError` if MLflow is installed and has no run ``run_id``.

    Without MLflow installed this does nothing: the ID is recorded as given.

    Raises:
        NotFoundError: The tracking store answered that there is no such run.
        CatalogUnavailableError: The tracking store could not be asked (server down, bad
            URI, refused request); the message shows the URI with its password masked.
    """
    mlflow = _import_mlflow(required=False)
    if mlflow is None:
        return
    from mlflow.exceptions import MlflowException

    try:
        mlflow.MlflowClient().get_run(run_id)
    except MlflowException as exc:
        where = mask_uri(str(mlflow.get_tracking_uri()))
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            hint = (
                f"The tracking store at {where!r} has no such run. Check "
                "MLFLOW_TRACKING_URI and the run ID."
            )
            kind = "MLflow run"
            raise NotFoundError(kind, run_id, hint=hint) from None
        detail = mask_uri(" ".join(str(exc.message).split()))
        msg = (
            f"Cannot check MLflow run {run_id!r}: the tracking store at {where!r} failed "
            f"({exc.error_code}: {detail}). Check that it is reachable (MLFLOW_TRACKING_URI) "
            "and retry."
        )
        raise CatalogUnavailableError(msg) from None


def link_model_run(run: ModelRun) -> None:
    """Tag the run's MLflow run with ``featurestore.model`` / ``featurestore.version``.

    Does nothing without MLflow installed or without an ``mlflow_run_id``.
    """
    mlflow = _import_mlflow(required=False)
    if mlflow is None or run.mlflow_run_id is None:
        return
    client = mlflow.MlflowClient()
    action = f"linking MLflow run {run.mlflow_run_id!r} to model run {run.model} {run.version}"
    with _translate(action):
        client.set_tag(run.mlflow_run_id, "featurestore.model", run.model)
        client.set_tag(run.mlflow_run_id, "featurestore.version", run.version)
        client.set_tag(run.mlflow_run_id, "featurestore.content_hash", run.content_hash)


def _fit(values: list[str]) -> str:
    text = json.dumps(values)
    limit = 8000
    if len(text) <= limit:
        return text
    return text[: limit - 60] + f"... ({len(values)} refs; see featurestore/training_set.json)"


def _import_mlflow(*, required: bool = True) -> Any:
    try:
        import mlflow
    except ImportError:
        if not required:
            return None
        msg = f"MLflow is not installed; install the extra: {_INSTALL}"
        raise ConfigError(msg) from None
    return mlflow


@contextlib.contextmanager
def _translate(action: str) -> Iterator[None]:
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        msg = f"MLflow refused {action}: {mask_uri(str(exc.message))}"
        raise FeatureStoreError(msg) from exc
