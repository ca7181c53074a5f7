"""Model runs: which Iceberg snapshots trained which model, and rebuilding that data exactly.

Use it through the store: ``store.log_model_run``, ``store.get_model_run``,
``store.list_model_runs``, ``store.feature_view_consumers``, ``store.reproduce_training_set``,
``store.protect_model_run``. The record type is :class:`ModelRun`.
"""

from __future__ import annotations

from featurestore.lineage.models import ModelRun as ModelRun, ViewRecord as ViewRecord

__all__ = ["ModelRun", "ViewRecord"]
