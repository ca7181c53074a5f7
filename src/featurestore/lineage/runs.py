"""Model runs: log, read and list the immutable records of which data trained which model.

:class:`ModelRuns` is the component behind ``store.log_model_run``, ``store.get_model_run``,
``store.list_model_runs``, ``store.feature_view_consumers``, ``store.reproduce_training_set``
and ``store.protect_model_run``. The records live in ``<namespace>.model_runs``
(:mod:`featurestore.lineage.table`); entity rows in one table per run
(:mod:`featurestore.lineage.entity_sets`).
"""

from __future__ import annotations

import builtins
import json
import logging
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from featurestore.errors import DataValidationError, NotFoundError
from featurestore.lineage.entity_sets import drop_entity_set, entity_set_name, save_entity_set
from featurestore.lineage.models import ModelRun, ViewRecord, normalize_version, validate_model
from featurestore.lineage.table import (
    already_logged,
    append_if_absent,
    load_runs_table,
    read_runs,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from featurestore.retrieval.training_set import TrainingSet
    from featurestore.store import FeatureStore

__all__ = ["ModelRuns"]


class ModelRuns:
    """Log and read model runs of one store.

    Example:
        >>> import featurestore, tempfile
        >>> runs = ModelRuns(featurestore.connect(home=tempfile.mkdtemp()))
        >>> runs.list()
        []
    """

    def __init__(self, store: FeatureStore) -> None:
        self.store = store

    def log(
        self,
        model: str,
        version: str | int,
        training_set: TrainingSet,
        *,
        params: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
        mlflow_run_id: str | None = None,
        description: str | None = None,
    ) -> ModelRun:
        """Record ``training_set`` as the data that trained ``model`` ``version``.

        The entity rows are saved as a table first; the run row is then appended in one
        commit that re-checks the (model, version) against the current table. When anything
        fails, the entity set table is dropped again.

        With ``mlflow_run_id``, the MLflow run must exist (checked before anything is
        written). Tagging it with the model and version happens after the run row is
        committed and is best effort: the record is immutable, so a failure there (tracking
        server down) is logged as a warning on the ``featurestore`` logger and the run is
        returned; re-tag later with
        :func:`featurestore.integrations.mlflow.link_model_run`.

        Raises:
            DefinitionError: Invalid model name or version.
            DataValidationError: params not JSON-serialisable, metrics not numbers, tags not
                strings, or entity columns Iceberg cannot store.
            AlreadyExistsError: The (model, version) is logged already.
            NotFoundError: MLflow has no run ``mlflow_run_id``.
            CatalogUnavailableError: The MLflow tracking store could not be asked whether
                ``mlflow_run_id`` exists; nothing was written.
        """
        model = validate_model(model)
        version = normalize_version(version)
        _check_arguments(training_set, description=description, mlflow_run_id=mlflow_run_id)
        extras = {
            "params": _json_params(params or {}),
            "metrics": _metrics(metrics or {}),
            "tags": _tags(tags or {}),
            "description": description,
            "mlflow_run_id": mlflow_run_id,
        }
        if self._exists(model, version):
            raise already_logged(model, version)
        if mlflow_run_id is not None:
            from featurestore.integrations.mlflow import check_run_exists

            check_run_exists(mlflow_run_id)
        entities = training_set.entity_frame()
        name = entity_set_name(self.store, model, version)
        snapshot_id = save_entity_set(self.store, name, entities, model=model, version=version)
        try:
            run = self._record(model, version, training_set, entities, name, snapshot_id, extras)
            append_if_absent(self.store, run)
        except BaseException:
            if not self._references(model, version, name):
                drop_entity_set(self.store, name)
            raise
        if mlflow_run_id is not None:
            _link_mlflow(run)
        return run

    def get(self, model: str, version: str | int) -> ModelRun:
        """Return the run of ``model`` ``version``.

        Raises:
            NotFoundError: No such run; the message suggests close (model, version) pairs.
        """
        model = validate_model(model)
        version = normalize_version(version)
        table = load_runs_table(self.store)
        runs = read_runs(table, model=model, version=version) if table is not None else []
        if runs:
            return runs[0]
        known = [f"{r.model} {r.version}" for r in self.list()]
        kind = "model run"
        raise NotFoundError(
            kind,
            f"{model} {version}",
            candidates=known,
            hint="List logged runs with store.list_model_runs() or `featurestore models list`.",
        )

    def list(
        self, *, model: str | None = None, feature_view: str | None = None
    ) -> builtins.list[ModelRun]:
        """Return logged runs (by model, then time), optionally of one model or one feature view.

        Reading never creates the model_runs table: before the first log this is ``[]``.
        """
        table = load_runs_table(self.store)
        if table is None:
            return []
        runs = read_runs(table, model=validate_model(model) if model is not None else None)
        if feature_view is not None:
            runs = [r for r in runs if feature_view in r.feature_views]
        return runs

    def reproduce(self, model: str, version: str | int) -> TrainingSet:
        """Rebuild the training set of a run and verify it (see :mod:`.reproduce`)."""
        from featurestore.lineage.reproduce import reproduce

        return reproduce(self.store, self.get(model, version))

    def protect(self, model: str, version: str | int) -> dict[str, str]:
        """Tag every snapshot a run needs (see :mod:`.reproduce`)."""
        from featurestore.lineage.reproduce import protect

        return protect(self.store, self.get(model, version))

    def _references(self, model: str, version: str, entity_table: str) -> bool:
        """Whether a logged run uses ``entity_table``; ``True`` when that cannot be read.

        A commit whose outcome is unknown (a lost response) may have landed: its entity set
        must then stay, so it is only dropped when the run row is known to be absent.
        """
        from featurestore.errors import FeatureStoreError

        try:
            table = load_runs_table(self.store)
            runs = read_runs(table, model=model, version=version) if table is not None else []
        except FeatureStoreError:
            return True
        return any(r.entity_table == entity_table for r in runs)

    def _exists(self, model: str, version: str) -> bool:
        table = load_runs_table(self.store)
        return table is not None and bool(read_runs(table, model=model, version=version))

    def _record(
        self,
        model: str,
        version: str,
        training_set: TrainingSet,
        entities: pa.Table,
        entity_table: str,
        entity_snapshot_id: int,
        extras: dict[str, Any],
    ) -> ModelRun:
        from featurestore._version import __version__
        from featurestore.lineage.git import git_commit

        start, end = _window(entities, training_set.timestamp_column)
        return ModelRun(
            model=model,
            version=version,
            trained_at=datetime.now(UTC),
            feature_refs=tuple(training_set.feature_refs),
            views=tuple(self._view_records(training_set)),
            registry_snapshot_id=training_set.registry_snapshot_id,
            entity_table=entity_table,
            entity_snapshot_id=entity_snapshot_id,
            entity_columns=tuple(entities.column_names),
            timestamp_column=training_set.timestamp_column,
            point_in_time=training_set.point_in_time,  # type: ignore[arg-type]
            full_feature_names=training_set.full_feature_names,
            output_columns=tuple(training_set.to_arrow().column_names),
            row_count=training_set.num_rows,
            content_hash=training_set.content_hash(),
            training_window_start=start,
            training_window_end=end,
            featurestore_version=__version__,
            git_commit=git_commit(),
            **extras,
        )

    def _view_records(self, training_set: TrainingSet) -> builtins.list[ViewRecord]:
        from featurestore.lineage.sources import source_snapshots

        records = []
        for view in training_set.views:
            sources: dict[str, int] = {}
            recorded_by = None
            if view.snapshot_id is not None:
                table = self.store.load_table(view.table)
                sources, recorded_by = source_snapshots(table, view.snapshot_id)
            records.append(
                ViewRecord(
                    alias=view.alias,
                    view=view.view,
                    table=view.table,
                    snapshot_id=view.snapshot_id,
                    schema_id=view.schema_id,
                    feature_names=tuple(view.feature_names),
                    source_snapshots=sources,
                    source_write_snapshot_id=recorded_by,
                )
            )
        return records


def _link_mlflow(run: ModelRun) -> None:
    """Tag the MLflow run; the run row is committed already, so failures only log."""
    from featurestore.integrations.mlflow import link_model_run

    try:
        link_model_run(run)
    except Exception as exc:  # best effort: the run row is committed and immutable
        logging.getLogger("featurestore").warning(
            "Model run %s %s is logged, but tagging MLflow run %r failed: %s. Re-tag it with "
            "featurestore.integrations.mlflow.link_model_run(run).",
            run.model,
            run.version,
            run.mlflow_run_id,
            exc,
        )


def _window(entities: pa.Table, column: str) -> tuple[datetime | None, datetime | None]:
    import pyarrow.compute as pc

    if column not in entities.column_names or entities.num_rows == 0:
        return None, None
    bounds = pc.min_max(entities.column(column)).as_py()
    return bounds["min"], bounds["max"]


def _json_params(params: Mapping[str, Any]) -> dict[str, Any]:
    try:
        text = json.dumps(dict(params), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        msg = (
            f"params must be JSON-serialisable (str, int, float, bool, None, lists, dicts; no "
            f"NaN): {exc}. Convert values such as numpy scalars or paths with str()/float()."
        )
        raise DataValidationError(msg) from None
    result: dict[str, Any] = json.loads(text)
    return result


def _check_arguments(training_set: Any, *, description: Any, mlflow_run_id: Any) -> None:
    from featurestore.retrieval.training_set import TrainingSet

    if not isinstance(training_set, TrainingSet):
        msg = (
            f"training_set must be the TrainingSet that get_historical_features returned, not "
            f"{type(training_set).__name__}: the run records its snapshots and entity rows."
        )
        raise DataValidationError(msg)
    for name, value in (("description", description), ("mlflow_run_id", mlflow_run_id)):
        if value is not None and not isinstance(value, str):
            msg = f"{name} must be a string or None, not {type(value).__name__} ({value!r})."
            raise DataValidationError(msg)


def _metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    result: dict[str, float] = {}
    for key, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not isinstance(key, str) or isinstance(value, bool) or not math.isfinite(number):
            msg = f"Invalid metric {key!r}: {value!r}. Metrics map names (str) to finite numbers."
            raise DataValidationError(msg)
        result[key] = number
    return result


def _tags(tags: Mapping[str, str]) -> dict[str, str]:
    bad = {k: v for k, v in tags.items() if not isinstance(k, str) or not isinstance(v, str)}
    if bad:
        msg = f"Invalid tags {bad!r}: tag keys and values must be strings."
        raise DataValidationError(msg)
    return dict(tags)
