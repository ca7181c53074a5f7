"""Step 1: seeded synthetic card transactions, optional anomalies, appended in batches.

Every user has a daily transaction rate and a lognormal amount distribution; each day's count
is Poisson, so some days have no transactions (the features count them as 0 spend). Amounts
are ``decimal(15,2)``, timestamps UTC. Batches of ``batch_days`` days are appended one
``store.write`` each: one Iceberg snapshot per batch, as a daily ingestion job would make.

Anomalies come from a JSON list of ``{"user_id", "day", "multiplier", "proportion"}``: on that
UTC day, that share of the user's transactions (at least one) is multiplied. A spec that
matches no transaction is an error that names it, never silently ignored.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fraud_example.definitions import DEFAULT_TABLES, TRANSACTIONS, Tables, definitions

if TYPE_CHECKING:
    import pyarrow as pa

    from featurestore import FeatureStore

START = date(2024, 1, 1)


class AnomalySpecError(ValueError):
    """An anomaly spec is malformed or matches no transaction."""


@dataclass(frozen=True)
class AnomalySpec:
    """Multiply ``proportion`` of ``user_id``'s transactions on UTC ``day`` by ``multiplier``."""

    user_id: int
    day: date
    multiplier: float
    proportion: float

    @classmethod
    def parse(cls, raw: Any, where: str) -> AnomalySpec:
        fields = {"user_id", "day", "multiplier", "proportion"}
        if not isinstance(raw, dict) or set(raw) != fields:
            got = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
            msg = f"{where}: expected exactly the keys {sorted(fields)}, got {got!r}."
            raise AnomalySpecError(msg)
        spec = cls(
            int(raw["user_id"]),
            date.fromisoformat(raw["day"]),
            float(raw["multiplier"]),
            float(raw["proportion"]),
        )
        if not 0 < spec.proportion <= 1 or spec.multiplier <= 0:
            msg = (
                f"{where}: proportion must be in (0, 1] and multiplier > 0, "
                f"got {spec.proportion!r} and {spec.multiplier!r}."
            )
            raise AnomalySpecError(msg)
        return spec


def load_anomalies(path: str | Path) -> list[AnomalySpec]:
    """Read anomaly specs from a JSON file holding a list of objects."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, list):
        msg = f"{str(path)!r} must hold a JSON list of anomaly specs, not {type(data).__name__}."
        raise AnomalySpecError(msg)
    return [AnomalySpec.parse(item, f"{path}[{i}]") for i, item in enumerate(data)]


def generate(*, users: int = 200, days: int = 60, seed: int = 7, start: date = START) -> pa.Table:
    """Generate the transactions (sorted by time) as an Arrow table.

    Example:
        >>> table = generate(users=3, days=2, seed=1)
        >>> table.column_names
        ['id', 'user_id', 'amount', 'vendor_id', 'event_timestamp']
    """
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    rates = rng.uniform(1.0, 4.0, users)
    log_means = rng.normal(3.5, 0.5, users)
    counts = rng.poisson(np.repeat(rates, days))  # user-major: user u, day d at u*days + d
    user_ids = np.repeat(np.repeat(np.arange(1, users + 1), days), counts)
    day_index = np.repeat(np.tile(np.arange(days), users), counts)
    seconds = rng.integers(0, 86_400, counts.sum())
    cents = np.round(rng.lognormal(log_means[user_ids - 1], 0.6) * 100).astype("int64")
    epoch = datetime.combine(start, datetime.min.time(), UTC)
    micros = (day_index * 86_400 + seconds) * 1_000_000 + int(epoch.timestamp()) * 1_000_000
    order = np.argsort(micros, kind="stable")
    return pa.table(
        {
            "id": pa.array(np.arange(1, len(order) + 1), pa.int64()),
            "user_id": pa.array(user_ids[order], pa.int64()),
            "amount": pa.array(
                [Decimal(int(c)).scaleb(-2) for c in cents[order]], pa.decimal128(15, 2)
            ),
            "vendor_id": pa.array(rng.integers(1, 51, len(order))[order], pa.int64()),
            "event_timestamp": pa.array(micros[order], pa.timestamp("us", tz="UTC")),
        }
    )


def inject(table: pa.Table, specs: list[AnomalySpec]) -> tuple[pa.Table, list[dict[str, Any]]]:
    """Apply the anomaly specs; return the new table and one record per changed transaction.

    Raises:
        AnomalySpecError: A spec matches no transaction (all such specs are listed).
    """
    import pyarrow as pa

    rows = table.to_pylist()
    changed: list[dict[str, Any]] = []
    unmatched: list[str] = []
    for spec in specs:
        hits = [
            r
            for r in rows
            if r["user_id"] == spec.user_id and r["event_timestamp"].date() == spec.day
        ]
        if not hits:
            unmatched.append(f"user_id={spec.user_id} day={spec.day.isoformat()}")
            continue
        for row in hits[: max(1, math.floor(spec.proportion * len(hits)))]:
            before = row["amount"]
            row["amount"] = (before * Decimal(str(spec.multiplier))).quantize(Decimal("0.01"))
            changed.append(
                {
                    "id": row["id"],
                    "user_id": spec.user_id,
                    "before": before,
                    "amount": row["amount"],
                    "event_timestamp": row["event_timestamp"],
                }
            )
    if unmatched:
        msg = (
            f"{len(unmatched)} anomaly spec(s) match no transaction: {'; '.join(unmatched)}. "
            "Pick a user and UTC day that have transactions (see the generated data)."
        )
        raise AnomalySpecError(msg)
    return pa.Table.from_pylist(rows, schema=table.schema), changed


def write_batches(store: FeatureStore, table: pa.Table, *, batch_days: int = 7) -> list[int]:
    """Append ``table`` in batches of ``batch_days`` UTC days; return the snapshot IDs."""
    import pyarrow.compute as pc

    stamps = table.column("event_timestamp")
    first = pc.min(stamps).as_py().replace(hour=0, minute=0, second=0, microsecond=0)
    last = pc.max(stamps).as_py()
    snapshots: list[int] = []
    lower = first
    while lower <= last:
        upper = lower + timedelta(days=batch_days)
        mask = pc.and_(pc.greater_equal(stamps, lower), pc.less(stamps, upper))
        batch = table.filter(mask)
        if batch.num_rows:
            snapshots.append(store.write(TRANSACTIONS, batch, mode="append").snapshot_id)
        lower = upper
    return snapshots


def run(
    store: FeatureStore,
    *,
    tables: Tables = DEFAULT_TABLES,
    users: int = 200,
    days: int = 60,
    seed: int = 7,
    anomalies: str | Path | None = None,
    batch_days: int = 7,
) -> dict[str, Any]:
    """Register the definitions, generate, inject and append the transactions."""
    store.apply(definitions(tables))
    table = generate(users=users, days=days, seed=seed)
    changed: list[dict[str, Any]] = []
    if anomalies is not None:
        table, changed = inject(table, load_anomalies(anomalies))
    snapshots = write_batches(store, table, batch_days=batch_days)
    return {
        "table": tables.transactions,
        "rows": table.num_rows,
        "users": users,
        "days": days,
        "snapshots": snapshots,
        "anomalies": changed,
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m fraud_example.data [--anomalies anomalies.json]``."""
    import featurestore

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch-days", type=int, default=7)
    parser.add_argument("--anomalies", default=None, help="JSON file of anomaly specs")
    args = parser.parse_args(argv)
    try:
        report = run(
            featurestore.connect(),
            users=args.users,
            days=args.days,
            seed=args.seed,
            anomalies=args.anomalies or None,
            batch_days=args.batch_days,
        )
    except AnomalySpecError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(
        f"data: {report['rows']} transactions of {report['users']} users over "
        f"{report['days']} days -> {report['table']} in {len(report['snapshots'])} snapshots"
    )
    for item in report["anomalies"]:
        print(
            f"data: anomaly injected: transaction {item['id']} of user {item['user_id']} at "
            f"{item['event_timestamp'].isoformat()}: {item['before']} -> {item['amount']}"
        )


if __name__ == "__main__":
    main()
