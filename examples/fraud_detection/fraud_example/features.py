"""Step 2: the gap-filled 7-day mean (and std) of daily spend, per user and UTC day.

``store.materialize`` runs the SQL below in DuckDB over the raw Iceberg table (read at one
snapshot, which the feature table's snapshot summary records) and replaces the feature rows
in ``[start, end)``, so re-running it replaces rather than duplicates.

Three rules make the feature safe to train on:

* Day boundaries are UTC: every timestamp goes through ``timezone('UTC', ...)`` before it is
  truncated to a date, so the host's time zone cannot move a transaction to another day.
* Days without transactions count as 0 spend: the SQL builds the full (user x day) grid and
  fills the gaps before averaging, so a quiet week lowers the mean instead of vanishing.
* The value of day D is stamped at D+1 00:00 UTC (the end of the day): a transaction on day
  D sees the value of day D-1 at most, never a window that contains itself.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fraud_example.definitions import DEFAULT_TABLES, SPEND, WINDOW_DAYS, Tables

if TYPE_CHECKING:
    from featurestore import FeatureStore

SQL = """
WITH bounds AS (
    SELECT timezone('UTC', CAST($start AS TIMESTAMPTZ)) AS lo,
           timezone('UTC', CAST($end AS TIMESTAMPTZ)) AS hi
),
tx AS (
    SELECT user_id, timezone('UTC', event_timestamp) AS ts, CAST(amount AS DOUBLE) AS amount
    FROM {transactions}
),
users AS (SELECT DISTINCT user_id FROM tx, bounds WHERE ts < hi - INTERVAL 1 DAY),
days AS (
    SELECT CAST(unnest(generate_series(lo - INTERVAL {window} DAY, hi - INTERVAL 2 DAY,
                                       INTERVAL 1 DAY)) AS DATE) AS day
    FROM bounds
),
daily AS (
    SELECT user_id, CAST(ts AS DATE) AS day, SUM(amount) AS spend
    FROM tx, bounds
    WHERE ts >= lo - INTERVAL {window} DAY AND ts < hi - INTERVAL 1 DAY
    GROUP BY ALL
),
filled AS (
    SELECT users.user_id, days.day, COALESCE(daily.spend, 0.0) AS spend
    FROM users CROSS JOIN days
    LEFT JOIN daily ON daily.user_id = users.user_id AND daily.day = days.day
),
windowed AS (
    SELECT user_id, day,
           AVG(spend) OVER w AS spend_mean_7d,
           STDDEV_POP(spend) OVER w AS spend_std_7d,
           COUNT(*) OVER w AS days_in_window
    FROM filled
    WINDOW w AS (PARTITION BY user_id ORDER BY day
                 ROWS BETWEEN {preceding} PRECEDING AND CURRENT ROW)
)
SELECT user_id,
       timezone('UTC', CAST(day AS TIMESTAMP) + INTERVAL 1 DAY) AS event_timestamp,
       spend_mean_7d,
       spend_std_7d
FROM windowed, bounds
WHERE days_in_window = {window}
  AND CAST(day AS TIMESTAMP) + INTERVAL 1 DAY >= lo
  AND CAST(day AS TIMESTAMP) + INTERVAL 1 DAY < hi
ORDER BY user_id, event_timestamp
"""


def feature_sql(tables: Tables = DEFAULT_TABLES) -> str:
    """The materialisation SQL for ``tables`` (``$start``/``$end`` bound the stamps)."""
    return SQL.format(
        transactions=tables.transactions, window=WINDOW_DAYS, preceding=WINDOW_DAYS - 1
    )


def feature_range(
    store: FeatureStore, tables: Tables = DEFAULT_TABLES
) -> tuple[datetime, datetime]:
    """The stamps to compute: from the first full 7-day window to the end of the last day.

    The first stamp is midnight after the 7th day of data (earlier windows would count days
    before the data began as 0 spend); the last is midnight after the last day with data.
    """
    import pyarrow.compute as pc

    stamps = (
        store.load_table(tables.transactions)
        .scan(selected_fields=("event_timestamp",))
        .to_arrow()
        .column("event_timestamp")
    )
    if len(stamps) == 0:
        msg = f"{tables.transactions} is empty: run the data step first (make data)."
        raise SystemExit(msg)
    first = _midnight(pc.min(stamps).as_py())
    last = _midnight(pc.max(stamps).as_py())
    return first + timedelta(days=WINDOW_DAYS), last + timedelta(days=2)


def _midnight(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def run(store: FeatureStore, *, tables: Tables = DEFAULT_TABLES) -> dict[str, Any]:
    """Materialise the whole range (idempotent: the range is replaced, never appended)."""
    start, end = feature_range(store, tables)
    result = store.materialize(SPEND, feature_sql(tables), start=start, end=end)
    return {"view": SPEND, "table": tables.spend, "start": start, "end": end, "result": result}


def main(argv: list[str] | None = None) -> None:
    """``python -m fraud_example.features``."""
    import featurestore

    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    report = run(featurestore.connect())
    result = report["result"]
    print(
        f"features: {report['view']} stamps [{report['start']:%Y-%m-%d}, "
        f"{report['end']:%Y-%m-%d}) -> {report['table']} snapshot {result.snapshot_id}"
    )


if __name__ == "__main__":
    main()
