"""A registered spend view with data, and a logged run over it (shared by lineage tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pyarrow as pa

from featurestore import Entity, Feature, FeatureView

if TYPE_CHECKING:
    from featurestore.lineage.models import ModelRun
    from featurestore.retrieval.training_set import TrainingSet
    from featurestore.store import FeatureStore


def day(d: int) -> datetime:
    return datetime(2024, 1, d, tzinfo=UTC)


def setup_view(store: FeatureStore, ns: str, name: str = "spend") -> None:
    view = FeatureView(
        name=name,
        entities=["user"],
        table=f"{ns}.{name}",
        features=[Feature(name=f"{name}_amount", dtype="float64")],
        ttl=timedelta(days=30),
    )
    store.apply([Entity(name="user", join_keys=["user_id"]), view])
    data = pa.table(
        {
            "user_id": pa.array([1, 2, 1], pa.int64()),
            "event_timestamp": pa.array([day(1), day(2), day(3)], pa.timestamp("us", "UTC")),
            f"{name}_amount": pa.array([1.0, 2.0, 3.0], pa.float64()),
        }
    )
    store.write(name, data)


def entity_rows() -> pa.Table:
    return pa.table(
        {
            "user_id": pa.array([1, 2, 3], pa.int64()),
            "event_timestamp": pa.array([day(4), day(4), day(5)], pa.timestamp("us", "UTC")),
            "label": pa.array([1, 0, 1], pa.int64()),
        }
    )


def log_run(
    store: FeatureStore, features: list[str], model: str = "churn", version: str = "1"
) -> tuple[TrainingSet, ModelRun]:
    training = store.get_historical_features(entity_rows(), features)
    return training, store.log_model_run(model, version, training)
