"""Definitions shared by the registry tests (a unique module name: tests share sys.path)."""

from __future__ import annotations

from datetime import timedelta

from featurestore.registry.models import Feature, FeatureView


def make_view(
    name: str = "user_spend", table: str = "features.user_spend", **changes: object
) -> FeatureView:
    fields: dict[str, object] = {
        "name": name,
        "entities": ["user"],
        "table": table,
        "features": [
            Feature(name="spend_7d", dtype="float64"),
            Feature(name="n_orders", dtype="int64"),
        ],
        "ttl": timedelta(days=7),
        "owner": "risk-team",
        "tags": {"team": "risk", "pii": "no"},
        "description": "Spend of a user over the last week",
    }
    fields.update(changes)
    return FeatureView.model_validate(fields)
