"""featurestore: an offline ML feature store on Apache Iceberg.

Define entities and feature views once, write feature data safely, pull point-in-time
correct training sets, and record the Iceberg snapshots that trained every model::

    import featurestore
    from featurestore import Entity, Feature, FeatureView

    store = featurestore.connect()             # embedded SQLite catalog under ./.featurestore
    store.apply([Entity(name="user", join_keys=["user_id"]), FeatureView(...)])
    store.write("user_spend", df)
    training = store.get_historical_features(entities, ["user_spend:*"])

Importing this package is cheap: PyIceberg, DuckDB and pyarrow load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from featurestore._version import __version__
from featurestore.errors import (
    AlreadyExistsError as AlreadyExistsError,
    CatalogError as CatalogError,
    CatalogUnavailableError as CatalogUnavailableError,
    CommitConflictError as CommitConflictError,
    ConfigError as ConfigError,
    DataValidationError as DataValidationError,
    DefinitionError as DefinitionError,
    FeatureStoreError as FeatureStoreError,
    NotFoundError as NotFoundError,
    ReproducibilityError as ReproducibilityError,
    RetrievalError as RetrievalError,
    SnapshotNotFoundError as SnapshotNotFoundError,
)

if TYPE_CHECKING:
    from pathlib import Path

    from featurestore.lineage.models import ModelRun
    from featurestore.registry.models import Entity, Feature, FeatureView
    from featurestore.retrieval.request import view_alias
    from featurestore.retrieval.training_set import TrainingSet
    from featurestore.store import FeatureStore

__all__ = [
    "AlreadyExistsError",
    "CatalogError",
    "CatalogUnavailableError",
    "CommitConflictError",
    "ConfigError",
    "DataValidationError",
    "DefinitionError",
    "Entity",
    "Feature",
    "FeatureStore",
    "FeatureStoreError",
    "FeatureView",
    "ModelRun",
    "NotFoundError",
    "ReproducibilityError",
    "RetrievalError",
    "SnapshotNotFoundError",
    "TrainingSet",
    "__version__",
    "connect",
    "view_alias",
]

_LAZY = {
    "Entity": "featurestore.registry.models",
    "Feature": "featurestore.registry.models",
    "FeatureView": "featurestore.registry.models",
    "FeatureStore": "featurestore.store",
    "TrainingSet": "featurestore.retrieval.training_set",
    "ModelRun": "featurestore.lineage.models",
    "view_alias": "featurestore.retrieval.request",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    msg = f"module 'featurestore' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(__all__)


def connect(
    *,
    catalog: dict[str, Any] | None = None,
    namespace: str | None = None,
    home: str | Path | None = None,
    catalog_name: str | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
    partition_granularity: str | None = None,
    parquet_compression: str | None = None,
) -> FeatureStore:
    """Connect to a feature store.

    Settings come from, lowest precedence first: defaults (an embedded SQLite catalog
    under ``./.featurestore``), ``featurestore.yaml`` (or ``$FEATURESTORE_CONFIG``),
    ``FEATURESTORE_*`` environment variables, and these arguments.

    Args:
        catalog: PyIceberg catalog properties, passed through untouched, e.g.
            ``{"type": "rest", "uri": "http://localhost:8181", "warehouse": "s3://wh"}``.
        namespace: Namespace of the store's system tables (default ``featurestore``).
        home: Folder of the embedded default catalog (default ``./.featurestore``).
        catalog_name: Name given to the PyIceberg catalog.
        threads: DuckDB threads for retrieval (default: all cores).
        memory_limit: DuckDB memory limit, e.g. ``"4GB"``.
        partition_granularity: ``"day"`` (default) or ``"month"`` for tables the store creates.
        parquet_compression: Parquet codec of tables the store creates: ``"snappy"``
            (default, fastest to read), ``"zstd"`` (smaller), ``"lz4"``, ``"gzip"`` or
            ``"uncompressed"``.

    Returns:
        The :class:`FeatureStore`. The catalog is contacted on first use.

    Raises:
        ConfigError: The configuration is invalid.

    Example:
        >>> import featurestore, tempfile
        >>> store = featurestore.connect(home=tempfile.mkdtemp(), namespace="fs")
        >>> store.namespace
        'fs'
    """
    from featurestore.config import load_config
    from featurestore.store import FeatureStore

    engine = {
        k: v for k, v in (("threads", threads), ("memory_limit", memory_limit)) if v is not None
    }
    config = load_config(
        {
            "catalog": catalog,
            "namespace": namespace,
            "home": home,
            "catalog_name": catalog_name,
            "engine": engine or None,
            "partition_granularity": partition_granularity,
            "parquet_compression": parquet_compression,
        }
    )
    return FeatureStore(config)
