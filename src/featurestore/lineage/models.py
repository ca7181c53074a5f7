"""The typed record of one model run: :class:`ModelRun` and its per-view :class:`ViewRecord`.

A model run answers "which data trained model X, version 3?" with snapshot IDs: for every
feature view its table and snapshot, the registry snapshot that defined the views, and the
entity set (saved as its own Iceberg table) at its snapshot. Records are frozen; once logged
they are never changed.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from featurestore.errors import DefinitionError

__all__ = ["ModelRun", "ViewRecord", "normalize_version", "protection_tag", "validate_model"]

_MODEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def validate_model(model: object) -> str:
    """Return ``model`` if it is a valid model name, else raise :class:`DefinitionError`.

    Example:
        >>> validate_model("fraud-detector")
        'fraud-detector'
    """
    if not isinstance(model, str) or not _MODEL.match(model):
        msg = (
            f"Invalid model name {model!r}: use a letter or underscore followed by letters, "
            "digits, '_' or '-' (at most 64 characters), e.g. 'fraud_detector'."
        )
        raise DefinitionError(msg)
    return model


def normalize_version(version: object) -> str:
    """Return ``version`` as a validated string (an ``int`` becomes its decimal string).

    Example:
        >>> normalize_version(3), normalize_version("1.2.0")
        ('3', '1.2.0')
    """
    if isinstance(version, int) and not isinstance(version, bool) and version >= 0:
        return str(version)
    if not isinstance(version, str) or not _VERSION.match(version):
        msg = (
            f"Invalid model version {version!r}: use a non-negative int or a string of letters, "
            "digits, '.', '_' or '-' starting with a letter or digit (e.g. '3' or '1.2.0')."
        )
        raise DefinitionError(msg)
    return version


def protection_tag(model: str, version: str) -> str:
    """The Iceberg tag name that protects the snapshots of a run.

    ``:`` separates the parts because neither a model name nor a version may contain it, so two
    runs never share a tag (``a`` v``1-v2`` and ``a-v1`` v``2`` would, with dashes).

    Example:
        >>> protection_tag("churn", "1.2.0")
        'fs-model:churn:1.2.0'
    """
    return f"fs-model:{model}:{version}"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ViewRecord(_Record):
    """What a model run read from one feature view (one alias of it).

    Attributes:
        alias: The name the view was joined under (the view name unless aliased).
        view: The feature view.
        table: Its Iceberg table.
        snapshot_id: The snapshot read; ``None`` when the table had no snapshot (empty).
        schema_id: The table schema the read resolved column names in (rebuilds use it).
        feature_names: The features taken from the view.
        source_snapshots: For computed features, the source tables and snapshot IDs that the
            latest materialisation contained in ``snapshot_id`` read (see
            :func:`featurestore.lineage.sources.source_snapshots`); empty otherwise.
        source_write_snapshot_id: The snapshot whose summary recorded ``source_snapshots``.
    """

    alias: str
    view: str
    table: str
    snapshot_id: int | None
    schema_id: int | None
    feature_names: tuple[str, ...]
    source_snapshots: dict[str, int] = Field(default_factory=dict)
    source_write_snapshot_id: int | None = None


class ModelRun(_Record):
    """One immutable model run: the exact data that trained ``model`` ``version``.

    Attributes:
        model: Model name.
        version: Model version (unique per model).
        trained_at: When the run was logged (UTC).
        description: Free text.
        feature_refs: The feature references the training set was built from.
        views: One record per joined view (alias).
        registry_snapshot_id: The registry snapshot whose definitions the retrieval used.
        entity_table: The Iceberg table holding the entity rows (``<ns>.entity_set__...``).
        entity_snapshot_id: Its snapshot.
        entity_columns: The entity columns, in order.
        timestamp_column: The entity timestamp column.
        point_in_time: ``"event"`` or ``"known"``.
        full_feature_names: Whether output columns were ``view__feature``.
        output_columns: The training set's columns, in order.
        row_count: Rows of the training set.
        content_hash: ``sha256:<hex>`` of the training set's content.
        training_window_start: Earliest entity timestamp (``None`` for no rows).
        training_window_end: Latest entity timestamp.
        params: Hyper-parameters (JSON values).
        metrics: Metric name -> value.
        tags: Free key/value labels.
        featurestore_version: The featurestore version that logged the run.
        git_commit: ``HEAD`` of the caller's git work tree, when there was one.
        mlflow_run_id: The linked MLflow run.

    Example:
        >>> from datetime import datetime, UTC
        >>> run = ModelRun(model="churn", version="3", trained_at=datetime(2024, 1, 1, tzinfo=UTC),
        ...     feature_refs=("spend:amount",), views=(), registry_snapshot_id=1,
        ...     entity_table="fs.entity_set__churn__3_ab", entity_snapshot_id=2,
        ...     entity_columns=("user_id", "event_timestamp"), timestamp_column="event_timestamp",
        ...     point_in_time="event", full_feature_names=False, output_columns=(), row_count=0,
        ...     content_hash="sha256:00", featurestore_version="0.1.0")
        >>> run.key
        ('churn', '3')
    """

    model: str
    version: str
    trained_at: datetime
    description: str | None = None
    feature_refs: tuple[str, ...]
    views: tuple[ViewRecord, ...]
    registry_snapshot_id: int | None
    entity_table: str
    entity_snapshot_id: int | None
    entity_columns: tuple[str, ...]
    timestamp_column: str
    point_in_time: Literal["event", "known"]
    full_feature_names: bool
    output_columns: tuple[str, ...]
    row_count: int
    content_hash: str
    training_window_start: datetime | None = None
    training_window_end: datetime | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    featurestore_version: str
    git_commit: str | None = None
    mlflow_run_id: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """``(model, version)``."""
        return (self.model, self.version)

    @property
    def feature_views(self) -> tuple[str, ...]:
        """Names of the feature views the run used, without duplicates, in order."""
        return tuple(dict.fromkeys(v.view for v in self.views))

    @property
    def snapshot_ids(self) -> dict[str, int | None]:
        """Alias -> snapshot ID read, the ``as_of`` mapping that rebuilds the training set."""
        return {v.alias: v.snapshot_id for v in self.views}

    @property
    def protection_tag(self) -> str:
        """The tag :meth:`FeatureStore.protect_model_run` creates for this run."""
        return protection_tag(self.model, self.version)

    def card(self) -> dict[str, Any]:
        """A readable summary (the ``featurestore models show`` model card)."""
        return {
            "model": self.model,
            "version": self.version,
            "trained_at": self.trained_at,
            "description": self.description,
            "rows": self.row_count,
            "content_hash": self.content_hash,
            "training_window": _window(self.training_window_start, self.training_window_end),
            "features": list(self.feature_refs),
            "snapshots": {
                v.alias: f"{v.table}@{v.snapshot_id if v.snapshot_id is not None else 'empty'}"
                for v in self.views
            },
            "registry_snapshot_id": self.registry_snapshot_id,
            "entity_set": f"{self.entity_table}@{self.entity_snapshot_id}",
            "point_in_time": self.point_in_time,
            "params": self.params,
            "metrics": self.metrics,
            "tags": self.tags,
            "git_commit": self.git_commit,
            "mlflow_run_id": self.mlflow_run_id,
            "featurestore_version": self.featurestore_version,
        }


def _window(start: datetime | None, end: datetime | None) -> str | None:
    if start is None or end is None:
        return None
    return f"{start.isoformat()} .. {end.isoformat()}"
