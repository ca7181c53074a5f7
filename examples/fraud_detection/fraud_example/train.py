"""Step 3: build the training set, calibrate the z-score threshold, log the model run.

The entity rows are the raw transactions exactly as the feature table's latest
materialisation read them (the snapshot recorded in its summary), each at its own
timestamp; ``get_historical_features`` attaches the 7-day statistics known at that moment.
The threshold is the ``quantile`` of :func:`fraud_example.scoring.z_score` over those rows,
the very function detection applies, so about ``1 - quantile`` of normal traffic is flagged.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from fraud_example.definitions import DEFAULT_TABLES, MEAN, MEAN_REF, STD, STD_REF, Tables
from fraud_example.features import feature_range
from fraud_example.scoring import STD_FLOOR, z_score

if TYPE_CHECKING:
    import pyarrow as pa

    from featurestore import FeatureStore
    from featurestore.lineage.models import ModelRun

MODEL = "fraud_detector"


def raw_snapshot_of_features(store: FeatureStore, tables: Tables = DEFAULT_TABLES) -> int:
    """The raw-transactions snapshot that the current feature values were computed from."""
    from featurestore.lineage.sources import source_snapshots

    table = store.load_table(tables.spend)
    current = table.current_snapshot()
    recorded, _ = source_snapshots(table, current.snapshot_id if current else None)
    if tables.transactions not in recorded:
        msg = (
            f"{tables.spend} records no snapshot of {tables.transactions} "
            f"(recorded: {recorded}); run the features step (make features)."
        )
        raise SystemExit(msg)
    return recorded[tables.transactions]


def entity_rows(store: FeatureStore, snapshot_id: int, tables: Tables = DEFAULT_TABLES) -> pa.Table:
    """The transactions of ``snapshot_id`` that can have a 7-day value, in time order.

    Transactions before the first full window (the first week of data) are left out: they
    could only be scored against days before the data began.
    """
    from pyiceberg.expressions import GreaterThanOrEqual

    first_stamp, _ = feature_range(store, tables)
    scan = store.load_table(tables.transactions).scan(
        snapshot_id=snapshot_id,
        row_filter=GreaterThanOrEqual("event_timestamp", first_stamp.isoformat()),
        selected_fields=("id", "user_id", "amount", "event_timestamp"),
    )
    return scan.to_arrow().sort_by([("event_timestamp", "ascending"), ("id", "ascending")])


def calibrate(z_values: list[float], quantile: float) -> float:
    """The ``quantile`` of the z-scores (linear interpolation, like numpy's default).

    Example:
        >>> calibrate([0.0, 1.0, 2.0, 3.0, 4.0], 0.5)
        2.0
    """
    import numpy as np

    if not z_values:
        msg = "No transaction has a feature value: materialise the features first."
        raise SystemExit(msg)
    return float(np.quantile(np.asarray(z_values, dtype="float64"), quantile))


def train(
    store: FeatureStore,
    *,
    version: str | int = 1,
    quantile: float = 0.995,
    model: str = MODEL,
    tables: Tables = DEFAULT_TABLES,
) -> ModelRun:
    """Build the training set, calibrate the threshold and log the model run."""
    raw_snapshot = raw_snapshot_of_features(store, tables)
    training = store.get_historical_features(
        entity_rows(store, raw_snapshot, tables), [MEAN_REF, STD_REF]
    )
    frame = training.to_pandas()
    scores = [
        z_score(a, m, s)
        for a, m, s in zip(
            frame["amount"],
            frame[MEAN].astype("float64"),
            frame[STD].astype("float64"),
            strict=True,
        )
    ]
    known = [z for z in scores if z is not None]
    threshold = calibrate(known, quantile)
    flagged = sum(z > threshold for z in known)
    return store.log_model_run(
        model,
        version,
        training,
        params={
            "quantile": quantile,
            "threshold": threshold,
            "std_floor": STD_FLOOR,
            "feature": MEAN_REF,
            "std_feature": STD_REF,
            "statistic": "z_score",
        },
        metrics={
            "rows": float(len(frame)),
            "rows_scored": float(len(known)),
            "rows_without_features": float(len(frame) - len(known)),
            "train_flag_rate": flagged / len(known),
        },
        tags={"example": "fraud_detection"},
        description="z-score of a transaction against the user's 7-day daily spend.",
    )


def main(argv: list[str] | None = None) -> None:
    """``python -m fraud_example.train --version 1 --quantile 0.995``."""
    import featurestore

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--version", default="1")
    parser.add_argument("--quantile", type=float, default=0.995)
    args = parser.parse_args(argv)
    run = train(
        featurestore.connect(), version=args.version, quantile=args.quantile, model=args.model
    )
    print(
        f"train-model: {run.model} v{run.version}: threshold z > "
        f"{run.params['threshold']:.3f} (quantile {run.params['quantile']}) on "
        f"{int(run.metrics['rows_scored'])} transactions; training set {run.content_hash[:19]}"
    )


if __name__ == "__main__":
    main()
