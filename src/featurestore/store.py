"""The :class:`FeatureStore` facade: short methods that delegate to one component each.

Components (registry, writer, retrieval, model runs) are created on first use, so
``connect()`` is cheap and a notebook that only reads pays for nothing else.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from featurestore.catalog import connect_catalog, translate_errors

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

    from featurestore.config import StoreConfig
    from featurestore.lineage.models import ModelRun
    from featurestore.lineage.runs import ModelRuns
    from featurestore.registry.models import Entity, FeatureView
    from featurestore.registry.repository import ApplyResult, Registry, RegistrySnapshot
    from featurestore.retrieval.engine import AsOf, EntityInput
    from featurestore.retrieval.training_set import TrainingSet
    from featurestore.writes.writer import FeatureWriter, WriteMode, WriteResult

__all__ = ["FeatureStore"]


class FeatureStore:
    """An offline feature store on one Iceberg catalog.

    Create it with :func:`featurestore.connect`; all state lives in the catalog.

    Example:
        >>> import featurestore, tempfile
        >>> store = featurestore.connect(home=tempfile.mkdtemp())
        >>> store.catalog_type
        'sql'
    """

    def __init__(self, config: StoreConfig) -> None:
        self.config = config

    def __repr__(self) -> str:
        from featurestore.config import mask_uri

        where = mask_uri(self.config.catalog_properties().get("uri", "embedded"))
        return (
            f"FeatureStore(catalog={self.catalog_type!r}, uri={where!r}, "
            f"namespace={self.namespace!r})"
        )

    # -- catalog -----------------------------------------------------------------------

    @property
    def namespace(self) -> str:
        """The namespace of the store's system tables."""
        return self.config.namespace

    @property
    def catalog_type(self) -> str:
        """The PyIceberg catalog type (``sql``, ``rest``...)."""
        return self.config.catalog_properties().get("type", "custom")

    @functools.cached_property
    def catalog(self) -> Catalog:
        """The PyIceberg catalog, loaded on first use.

        Reading creates nothing in the catalog (a read-only credential is enough); the system
        namespace is created by the first write that needs it (apply, log_model_run).
        """
        return connect_catalog(self.config)

    def system_table_name(self, name: str) -> str:
        """Full name of a system table, e.g. ``featurestore.registry``."""
        return f"{self.namespace}.{name}"

    def load_table(self, name: str) -> Table:
        """Load an Iceberg table by ``"namespace.table"``.

        Raises:
            NotFoundError: No such table; the message lists close names.
        """
        from featurestore.errors import NotFoundError

        try:
            with translate_errors(f"loading table {name!r}"):
                return self.catalog.load_table(name)
        except NotFoundError:
            pass  # re-raised below with the names that do exist
        candidates = self._table_names(name.rpartition(".")[0])
        kind = "table"
        raise NotFoundError(kind, name, candidates=candidates)

    def _table_names(self, namespace: str) -> list[str]:
        from featurestore.errors import FeatureStoreError

        try:
            with translate_errors(f"listing tables of {namespace!r}"):
                return [".".join(t) for t in self.catalog.list_tables(namespace)]
        except FeatureStoreError:  # a missing namespace just means no suggestions
            return []

    def info(self) -> dict[str, Any]:
        """Describe the resolved configuration and the catalog, secrets masked.

        Returns:
            ``config`` (masked), ``catalog_type``, ``reachable``, ``namespaces`` and, when the
            catalog could not be reached, ``error``.
        """
        from featurestore.errors import FeatureStoreError

        result: dict[str, Any] = {"config": self.config.masked(), "catalog_type": self.catalog_type}
        try:
            with translate_errors("listing namespaces"):
                namespaces = [".".join(ns) for ns in self.catalog.list_namespaces()]
        except FeatureStoreError as exc:
            result.update(reachable=False, error=str(exc), namespaces=[])
        else:
            result.update(reachable=True, namespaces=sorted(namespaces))
        return result

    # -- registry ----------------------------------------------------------------------

    @functools.cached_property
    def _registry(self) -> Registry:
        from featurestore.registry.repository import Registry

        return Registry(self)

    def apply(self, objects: Entity | FeatureView | Iterable[Entity | FeatureView]) -> ApplyResult:
        """Validate and register definitions in one atomic commit.

        Args:
            objects: Entities and feature views; unchanged ones are left alone, changed
                ones become a new version.

        Returns:
            What was created, updated and left unchanged, and the registry snapshot ID.

        Raises:
            DefinitionError: The set is inconsistent, or disagrees with an existing table.
            CommitConflictError: A concurrent apply won and the retries ran out.

        Example:
            >>> import featurestore, tempfile, pandas as pd
            >>> from featurestore import Entity, Feature, FeatureView
            >>> store = featurestore.connect(home=tempfile.mkdtemp())
            >>> spend = FeatureView(name="spend", entities=["user"], table="features.spend",
            ...                     features=[Feature(name="amount", dtype="float64")])
            >>> result = store.apply([Entity(name="user", join_keys=["user_id"]), spend])
            >>> result.created
            ['user', 'spend']
            >>> store.apply([spend]).unchanged
            ['spend']
        """
        return self._registry.apply(objects)

    def get_entity(self, name: str) -> Entity:
        """Return the current definition of entity ``name`` (``NotFoundError`` if unknown)."""
        return self._registry.get_entity(name)

    def get_feature_view(self, name: str) -> FeatureView:
        """Return the current definition of feature view ``name`` (``NotFoundError`` if unknown)."""
        return self._registry.get_feature_view(name)

    def list_entities(self) -> list[Entity]:
        """Return every registered entity, sorted by name."""
        return self._registry.list_entities()

    def list_feature_views(
        self, *, owner: str | None = None, tag: str | Mapping[str, str] | None = None
    ) -> list[FeatureView]:
        """Return registered feature views, optionally filtered by owner and tag.

        Args:
            owner: Keep views owned by this owner.
            tag: Keep views with this tag key (a string) or these key/value pairs (a mapping).
        """
        return self._registry.list_feature_views(owner=owner, tag=tag)

    def search(self, text: str) -> list[Entity | FeatureView]:
        """Return definitions whose name, description, owner, features or tags contain ``text``."""
        return self._registry.search(text)

    def delete_feature_view(self, name: str, *, force: bool = False) -> None:
        """Remove a feature view from the registry (its table and history are kept).

        Args:
            name: The view.
            force: Delete even when logged model runs used the view.

        Raises:
            NotFoundError: No such view.
            DefinitionError: Model runs used the view and ``force`` is false.
        """
        from featurestore.errors import DefinitionError

        if self._registry.at(None).version("feature_view", name) is None:
            self._registry.get_feature_view(name)  # raises NotFoundError, with suggestions
        if not force:
            consumers = self.feature_view_consumers(name)
            if consumers:
                runs = ", ".join(f"{r.model} v{r.version}" for r in consumers[:5])
                msg = (
                    f"Feature view {name!r} is used by {len(consumers)} logged model run(s) "
                    f"({runs}); pass force=True to delete it anyway."
                )
                raise DefinitionError(msg)
        self._registry.delete_feature_view(name)

    def registry(self, *, as_of: datetime | int | None = None) -> RegistrySnapshot:
        """The registry as it was at a past time or registry snapshot ID (default: now)."""
        return self._registry.at(as_of)

    # -- writes ------------------------------------------------------------------------

    @functools.cached_property
    def _writer(self) -> FeatureWriter:
        from featurestore.writes.writer import FeatureWriter

        return FeatureWriter(self)

    def write(
        self,
        view: str | FeatureView,
        data: Any,
        *,
        mode: WriteMode = "append",
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> WriteResult:
        """Validate ``data`` against ``view`` and commit it atomically to the view's table.

        Args:
            view: A registered view name, or a FeatureView.
            data: pandas or polars DataFrame, pyarrow Table or RecordBatchReader.
            mode: ``"append"``, ``"upsert"`` (same keys + timestamp replaced) or
                ``"replace_range"`` (rows with timestamps in ``[start, end)`` replaced).
            start: Start of the replaced range (``replace_range`` only).
            end: End of the replaced range, exclusive (``replace_range`` only).

        Returns:
            The table, the new snapshot ID and the row counts.

        Raises:
            DataValidationError: The data does not fit; nothing was written.
            CommitConflictError: A concurrent writer won and the retries ran out.

        Example:
            >>> import featurestore, tempfile, pandas as pd
            >>> from featurestore import Entity, Feature, FeatureView
            >>> store = featurestore.connect(home=tempfile.mkdtemp())
            >>> spend = FeatureView(name="spend", entities=["user"], table="features.spend",
            ...                     features=[Feature(name="amount", dtype="float64")])
            >>> _ = store.apply([Entity(name="user", join_keys=["user_id"]), spend])
            >>> result = store.write("spend", pd.DataFrame({"user_id": [1, 2], "amount": [9.5, 3.0],
            ...     "event_timestamp": pd.to_datetime(["2024-01-01", "2024-01-02"], utc=True)}))
            >>> result.rows_written, result.snapshot_id is not None
            (2, True)
        """
        return self._writer.write(view, data, mode=mode, start=start, end=end)

    def materialize(
        self, view: str | FeatureView, sql: str, *, start: datetime, end: datetime
    ) -> WriteResult:
        """Compute features with DuckDB SQL over Iceberg tables and replace ``[start, end)``.

        Args:
            view: The target view.
            sql: DuckDB SQL; it may name Iceberg tables (``raw.transactions``), each read at one
                snapshot, and the parameters ``$start`` and ``$end``.
            start: Start of the computed range.
            end: End of the computed range, exclusive.

        Returns:
            The write result; the snapshot summary records the source snapshot IDs.
        """
        from featurestore.writes.materialize import materialize

        return materialize(self, view, sql, start=start, end=end)

    # -- retrieval ---------------------------------------------------------------------

    def get_historical_features(
        self,
        entity_df: EntityInput,
        features: Iterable[str],
        *,
        full_feature_names: bool = False,
        as_of: AsOf = None,
        point_in_time: Literal["event", "known"] = "event",
        timestamp_column: str | None = None,
    ) -> TrainingSet:
        """Build a point-in-time correct training set (see docs/retrieval.md).

        Args:
            entity_df: Entity rows: pandas, polars, pyarrow Table or RecordBatchReader, a DuckDB
                SQL string, or an Iceberg table name.
            features: ``"view:feature"`` / ``"view:*"`` references; ``"alias=view:feature"``
                joins a view under an alias (see :mod:`featurestore.retrieval.request`).
            full_feature_names: Name output columns ``view__feature``.
            as_of: Snapshot selection: a datetime, snapshot ID, tag/branch, or per-view mapping.
            point_in_time: ``"event"``, or ``"known"`` to also hide rows not yet ingested at
                the entity timestamp.
            timestamp_column: The entity timestamp column (default: ``event_timestamp``,
                else the only timestamp column).

        Returns:
            One row per entity row, in input order, with the snapshot IDs it used.

        Example:
            >>> import featurestore, tempfile, pandas as pd
            >>> from featurestore import Entity, Feature, FeatureView
            >>> store = featurestore.connect(home=tempfile.mkdtemp())
            >>> spend = FeatureView(name="spend", entities=["user"], table="features.spend",
            ...                     features=[Feature(name="amount", dtype="float64")])
            >>> _ = store.apply([Entity(name="user", join_keys=["user_id"]), spend])
            >>> _ = store.write("spend", pd.DataFrame({"user_id": [1], "amount": [9.5],
            ...     "event_timestamp": pd.to_datetime(["2024-01-01"], utc=True)}))
            >>> rows = pd.DataFrame({"user_id": [1, 1], "event_timestamp": pd.to_datetime(
            ...     ["2023-12-31", "2024-01-02"], utc=True)})
            >>> training = store.get_historical_features(rows, ["spend:amount"])
            >>> training.to_arrow().column("amount").to_pylist()  # nothing known yet -> NULL
            [None, 9.5]
            >>> list(training.snapshot_ids) == ["features.spend"]
            True
        """
        from featurestore.retrieval.engine import get_historical_features

        return get_historical_features(
            self,
            entity_df,
            features,
            full_feature_names=full_feature_names,
            as_of=as_of,
            point_in_time=point_in_time,
            timestamp_column=timestamp_column,
        )

    # -- model runs --------------------------------------------------------------------

    @functools.cached_property
    def _model_runs(self) -> ModelRuns:
        from featurestore.lineage.runs import ModelRuns

        return ModelRuns(self)

    def log_model_run(
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
        """Record, immutably, which snapshots and entity rows trained ``model`` ``version``.

        Appends one row to ``<namespace>.model_runs`` (created on first use) and saves the
        entity rows as the table ``<namespace>.entity_set__<model>__v<version>__<id>``.

        Args:
            model: Model name: letters, digits, ``_`` and ``-``.
            version: ``3`` or ``"1.2.0"``; unique per model.
            training_set: The result of :meth:`get_historical_features`.
            params: Hyper-parameters (JSON-serialisable values).
            metrics: Metric name -> number.
            tags: Free string labels.
            mlflow_run_id: Link an MLflow run; with MLflow installed, the run must exist and
                gets the tags ``featurestore.model`` / ``featurestore.version``.
            description: Free text.

        Returns:
            The logged :class:`~featurestore.lineage.ModelRun`.

        Raises:
            AlreadyExistsError: This model and version were logged before (also when a
                concurrent process logged it first).
            DefinitionError: Invalid model name or version.
            DataValidationError: Invalid params / metrics / tags.

        Example:
            >>> import featurestore, tempfile, pandas as pd
            >>> from featurestore import Entity, Feature, FeatureView
            >>> store = featurestore.connect(home=tempfile.mkdtemp())
            >>> spend = FeatureView(name="spend", entities=["user"], table="features.spend",
            ...                     features=[Feature(name="amount", dtype="float64")])
            >>> _ = store.apply([Entity(name="user", join_keys=["user_id"]), spend])
            >>> _ = store.write("spend", pd.DataFrame({"user_id": [1], "amount": [9.5],
            ...     "event_timestamp": pd.to_datetime(["2024-01-01"], utc=True)}))
            >>> rows = pd.DataFrame({"user_id": [1, 1], "event_timestamp": pd.to_datetime(
            ...     ["2023-12-31", "2024-01-02"], utc=True)})
            >>> training = store.get_historical_features(rows, ["spend:amount"])
            >>> run = store.log_model_run("churn", 3, training, metrics={"auc": 0.9})
            >>> run.version, run.row_count, run.content_hash == training.content_hash()
            ('3', 2, True)
        """
        return self._model_runs.log(
            model,
            version,
            training_set,
            params=params,
            metrics=metrics,
            tags=tags,
            mlflow_run_id=mlflow_run_id,
            description=description,
        )

    def get_model_run(self, model: str, version: str | int) -> ModelRun:
        """Return the logged run of ``model`` ``version`` (``NotFoundError`` if unknown)."""
        return self._model_runs.get(model, version)

    def list_model_runs(
        self, *, model: str | None = None, feature_view: str | None = None
    ) -> list[ModelRun]:
        """Return logged runs, optionally of one model or using one feature view."""
        return self._model_runs.list(model=model, feature_view=feature_view)

    def feature_view_consumers(self, view: str) -> list[ModelRun]:
        """Return the model runs whose training sets used feature view ``view``."""
        return self._model_runs.list(feature_view=view)

    def reproduce_training_set(self, model: str, version: str | int) -> TrainingSet:
        """Rebuild the training set of a logged run and verify its content hash.

        Reads the entity set, every feature table and the registry at the recorded snapshots,
        so later appends, upserts, schema changes and new definitions do not change it.

        Raises:
            NotFoundError: No such run, or a table it needs was dropped.
            SnapshotNotFoundError: A snapshot the run needs was expired; names it.
            ReproducibilityError: The rebuilt data differs from what was recorded.

        Example:
            >>> import featurestore, tempfile, pandas as pd
            >>> from featurestore import Entity, Feature, FeatureView
            >>> store = featurestore.connect(home=tempfile.mkdtemp())
            >>> spend = FeatureView(name="spend", entities=["user"], table="features.spend",
            ...                     features=[Feature(name="amount", dtype="float64")])
            >>> _ = store.apply([Entity(name="user", join_keys=["user_id"]), spend])
            >>> _ = store.write("spend", pd.DataFrame({"user_id": [1], "amount": [9.5],
            ...     "event_timestamp": pd.to_datetime(["2024-01-01"], utc=True)}))
            >>> rows = pd.DataFrame({"user_id": [1, 1], "event_timestamp": pd.to_datetime(
            ...     ["2023-12-31", "2024-01-02"], utc=True)})
            >>> training = store.get_historical_features(rows, ["spend:amount"])
            >>> _ = store.log_model_run("churn", 1, training)
            >>> _ = store.write("spend", pd.DataFrame({"user_id": [1], "amount": [1.0],
            ...     "event_timestamp": pd.to_datetime(["2024-01-01 12:00"], utc=True)}))
            >>> store.reproduce_training_set("churn", 1).content_hash() == training.content_hash()
            True
        """
        return self._model_runs.reproduce(model, version)

    def protect_model_run(self, model: str, version: str | int) -> dict[str, str]:
        """Tag every snapshot a run needs so snapshot expiry keeps them.

        Tags ``fs-model:<model>:<version>`` on the entity set, each feature table and the
        registry table; idempotent.

        Raises:
            SnapshotNotFoundError: A needed snapshot was already expired.

        Returns:
            Table name -> the tag created on it.
        """
        return self._model_runs.protect(model, version)
