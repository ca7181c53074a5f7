"""Helpers of the model-run tests: complete model-run records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from featurestore.lineage.models import ModelRun, ViewRecord


def make_run(model: str = "churn", version: str = "1", **overrides: Any) -> ModelRun:
    """A complete ModelRun record with plausible values (tables need not exist)."""
    values: dict[str, Any] = {
        "model": model,
        "version": version,
        "trained_at": datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
        "description": "weekly retrain",
        "feature_refs": ("spend:amount", "spend:count"),
        "views": (
            ViewRecord(
                alias="spend",
                view="spend",
                table="features.spend",
                snapshot_id=11,
                schema_id=0,
                feature_names=("amount", "count"),
                source_snapshots={"raw.tx": 7},
                source_write_snapshot_id=10,
            ),
        ),
        "registry_snapshot_id": 5,
        "entity_table": "fs.entity_set__churn__v1__abc",
        "entity_snapshot_id": 3,
        "entity_columns": ("user_id", "event_timestamp", "label"),
        "timestamp_column": "event_timestamp",
        "point_in_time": "event",
        "full_feature_names": False,
        "output_columns": ("user_id", "event_timestamp", "label", "amount", "count"),
        "row_count": 2,
        "content_hash": "sha256:" + "ab" * 32,
        "training_window_start": datetime(2024, 1, 1, tzinfo=UTC),
        "training_window_end": datetime(2024, 4, 30, tzinfo=UTC),
        "params": {"lr": 0.1, "layers": [64, 32], "name": "x"},
        "metrics": {"auc": 0.91},
        "tags": {"team": "risk"},
        "featurestore_version": "0.1.0",
        "git_commit": None,
        "mlflow_run_id": None,
    }
    values.update(overrides)
    return ModelRun(**values)
