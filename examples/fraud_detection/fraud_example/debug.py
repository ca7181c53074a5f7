"""Step 5: explain a decision as JSON, everything read back through the model run.

The threshold, the quantile, the training window and the snapshots come from
``store.get_model_run``: the record that was written when the model was trained, not from
today's code or config. The context shows the feature values the decision rested on.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fraud_example.definitions import DEFAULT_TABLES, MEAN, MEAN_REF, Tables
from fraud_example.detect import Decision, parse_request, request_of, score
from fraud_example.train import MODEL

if TYPE_CHECKING:
    from featurestore import FeatureStore
    from featurestore.lineage.models import ModelRun


def last_feature_values(
    store: FeatureStore, user_id: int, at: datetime, *, n: int = 7, tables: Tables = DEFAULT_TABLES
) -> list[tuple[datetime, float]]:
    """The user's last ``n`` values of the mean stamped at or before ``at``, in date order.

    Each is returned with the UTC day it summarises (its stamp minus one day).
    """
    from pyiceberg.expressions import And, EqualTo, LessThanOrEqual

    rows = (
        store.load_table(tables.spend)
        .scan(
            row_filter=And(
                EqualTo("user_id", user_id), LessThanOrEqual("event_timestamp", at.isoformat())
            ),
            selected_fields=("event_timestamp", MEAN),
        )
        .to_arrow()
        .sort_by("event_timestamp")
        .to_pylist()[-n:]
    )
    return [(r["event_timestamp"] - timedelta(days=1), r[MEAN]) for r in rows]


def why(decision: Decision) -> str:
    """One sentence a reviewer can read."""
    if decision.z_score is None:
        return (
            "No 7-day spend was known for this user at that time (no history, or older "
            "than the view's TTL), so the model cannot score the transaction."
        )
    side = "above" if decision.is_anomaly else "not above"
    return (
        f"The amount is {decision.z_score:.2f} standard deviations from the user's 7-day "
        f"mean daily spend ({decision.historical_mean:.2f}), {side} the threshold "
        f"{decision.threshold_used:.2f} calibrated when the model was trained."
    )


def model_card(run: ModelRun, tables: Tables = DEFAULT_TABLES) -> dict[str, Any]:
    """The fields of the run that explain the threshold and the data behind it."""
    view = next(v for v in run.views if v.alias == MEAN_REF.split(":")[0])
    return {
        "trained_at": run.trained_at.isoformat(),
        "feature_snapshot_id": view.snapshot_id,
        "raw_events_snapshot_id": view.source_snapshots.get(tables.transactions),
        "feature_name": run.params["feature"],
        "decision_threshold": run.params["threshold"],
        "training_window_start": _iso(run.training_window_start),
        "training_window_end": _iso(run.training_window_end),
        "quantile": run.params["quantile"],
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def explain(
    store: FeatureStore,
    *,
    user_id: int,
    amount: Decimal | float,
    at: datetime,
    version: str | int = 1,
    model: str = MODEL,
    tables: Tables = DEFAULT_TABLES,
    last_n: int = 7,
) -> dict[str, Any]:
    """The debug document of one decision."""
    run = store.get_model_run(model, version)
    decision = score(store, user_id=user_id, amount=amount, at=at, version=version, model=model)
    history = last_feature_values(store, user_id, at, n=last_n, tables=tables)
    return {
        "model_version": run.version,
        "decision": decision.as_dict(),
        "why": why(decision),
        "context": {
            "as_of": at.isoformat(),
            "user_id": user_id,
            "amount": str(amount),
            "as_of_feature_value": decision.historical_mean,
            "last_n_feature_values": [value for _, value in history],
            "last_n_feature_dates": [day.date().isoformat() for day, _ in history],
        },
        "model_card": model_card(run, tables),
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m fraud_example.debug --user-id 17 --amount 400 --timestamp ...``."""
    import featurestore

    args = parse_request(argv, __doc__.splitlines()[0])
    document = explain(featurestore.connect(), **request_of(args))
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
