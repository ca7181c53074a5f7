"""Step 4: score one transaction with a logged model's threshold and the features known then.

The threshold comes from the model run (``store.get_model_run``), never from a constant, and
the user's 7-day statistics come from a point-in-time lookup at the transaction's timestamp:
the latest value stamped at or before it, i.e. the last *completed* UTC day.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fraud_example.definitions import MEAN, MEAN_REF, STD, STD_REF
from fraud_example.scoring import z_score
from fraud_example.train import MODEL

if TYPE_CHECKING:
    from featurestore import FeatureStore


@dataclass(frozen=True)
class Decision:
    """The verdict on one transaction; ``is_anomaly`` is ``None`` when there is no history."""

    is_anomaly: bool | None
    z_score: float | None
    historical_mean: float | None
    historical_std: float | None
    threshold_used: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO timestamp; a naive one is UTC (as everywhere in featurestore).

    Example:
        >>> parse_timestamp("2024-03-01T12:00:00Z").isoformat()
        '2024-03-01T12:00:00+00:00'
    """
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def features_at(store: FeatureStore, user_id: int, at: datetime) -> tuple[float | None, ...]:
    """The user's (mean, std) known at ``at``, by a one-row point-in-time lookup."""
    import pandas as pd

    entity = pd.DataFrame(
        {
            "user_id": pd.array([user_id], dtype="int64"),
            "event_timestamp": pd.to_datetime([at], utc=True),
        }
    )
    row = store.get_historical_features(entity, [MEAN_REF, STD_REF]).to_pandas().iloc[0]
    return tuple(None if pd.isna(row[name]) else float(row[name]) for name in (MEAN, STD))


def score(
    store: FeatureStore,
    *,
    user_id: int,
    amount: Decimal | float,
    at: datetime,
    version: str | int = 1,
    model: str = MODEL,
) -> Decision:
    """Score one transaction against logged model ``model`` ``version``."""
    threshold = float(store.get_model_run(model, version).params["threshold"])
    mean, std = features_at(store, user_id, at)
    z = z_score(amount, mean, std)
    return Decision(
        is_anomaly=None if z is None else z > threshold,
        z_score=z,
        historical_mean=mean,
        historical_std=std,
        threshold_used=threshold,
    )


def parse_request(argv: list[str] | None, description: str) -> argparse.Namespace:
    """The command-line options detect and debug share: which transaction, which model."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--user-id", type=int, required=True)
    parser.add_argument("--amount", type=Decimal, required=True)
    parser.add_argument(
        "--timestamp",
        type=parse_timestamp,
        required=True,
        help="ISO time of the transaction, e.g. 2024-03-01T12:00:00Z",
    )
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--version", default="1")
    return parser.parse_args(argv)


def request_of(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`score` (and ``debug.explain``) from parsed options."""
    return {
        "user_id": args.user_id,
        "amount": args.amount,
        "at": args.timestamp,
        "version": args.version,
        "model": args.model,
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m fraud_example.detect --user-id 17 --amount 400 --timestamp ...``."""
    import featurestore

    args = parse_request(argv, __doc__.splitlines()[0])
    decision = score(featurestore.connect(), **request_of(args))
    verdict = {True: "ANOMALY", False: "normal", None: "unknown (no history)"}
    z = "n/a" if decision.z_score is None else f"{decision.z_score:.2f}"
    print(
        f"detect: user {args.user_id} amount {args.amount} at {args.timestamp.isoformat()}: "
        f"{verdict[decision.is_anomaly]} (z={z}, threshold {decision.threshold_used:.2f})"
    )


if __name__ == "__main__":
    main()
