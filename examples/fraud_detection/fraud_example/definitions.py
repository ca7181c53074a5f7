"""The example's definitions: the ``user`` entity, the raw transactions and the 7-day spend view.

The raw transactions are a feature view too, so the store creates and writes their Iceberg
table (typed, partitioned by day, every batch one snapshot stamped with ``_ingested_at``),
and the computed view can record which snapshot of it each materialisation read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from featurestore import Entity, Feature, FeatureView

TRANSACTIONS = "transactions"
SPEND = "user_spend_7d"
MEAN = "spend_mean_7d"
STD = "spend_std_7d"
MEAN_REF = f"{SPEND}:{MEAN}"
STD_REF = f"{SPEND}:{STD}"
WINDOW_DAYS = 7


@dataclass(frozen=True)
class Tables:
    """Where the example's Iceberg tables live (tests use unique namespaces)."""

    raw_namespace: str = "raw"
    feature_namespace: str = "features"

    @property
    def transactions(self) -> str:
        return f"{self.raw_namespace}.transactions"

    @property
    def spend(self) -> str:
        return f"{self.feature_namespace}.user_spend_7d"


DEFAULT_TABLES = Tables()


def definitions(tables: Tables = DEFAULT_TABLES) -> list[Entity | FeatureView]:
    """The entity and the two feature views, ready for ``store.apply``."""
    user = Entity(name="user", join_keys=["user_id"], key_dtypes={"user_id": "int64"})
    transactions = FeatureView(
        name=TRANSACTIONS,
        entities=["user"],
        table=tables.transactions,
        features=[
            Feature(name="id", dtype="int64", description="Transaction id."),
            Feature(name="amount", dtype="decimal(15,2)", description="Amount, card currency."),
            Feature(name="vendor_id", dtype="int64"),
        ],
        owner="payments-data",
        description="Raw card transactions, appended in batches.",
    )
    spend = FeatureView(
        name=SPEND,
        entities=["user"],
        table=tables.spend,
        features=[
            Feature(name=MEAN, dtype="float64", description="Mean daily spend, last 7 UTC days."),
            Feature(name=STD, dtype="float64", description="Std of daily spend, same days."),
        ],
        ttl=timedelta(days=2),
        owner="fraud-team",
        description=(
            "Gap-filled 7-day daily spend per user. The value of day D is stamped at D+1 "
            "00:00 UTC: it becomes visible only once day D has ended."
        ),
    )
    return [user, transactions, spend]
