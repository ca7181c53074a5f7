"""Point-in-time retrieval: ``get_historical_features`` and its :class:`TrainingSet`.

Nothing heavy is imported here; :mod:`featurestore.retrieval.engine` loads DuckDB and
PyIceberg when a retrieval runs.
"""

from __future__ import annotations

from featurestore.retrieval.request import (
    EMPTY_SNAPSHOT as EMPTY_SNAPSHOT,
    FeatureRef as FeatureRef,
    view_alias as view_alias,
)

__all__ = ["EMPTY_SNAPSHOT", "FeatureRef", "view_alias"]
