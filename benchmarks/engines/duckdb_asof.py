"""Reference engine: one DuckDB ``ASOF LEFT JOIN`` over the Parquet copy of the data.

Same semantics as featurestore (DESIGN.md, point-in-time rules 1-4): the latest row with
``ts <= t``; ties on ``ts`` go to the greatest ``created``, in the same ASOF pass by comparing
``(ts, created)`` as one ordered key (the entity side uses ``(t, +infinity)``); a TTL is
applied after the match; output in entity order.

The warm-up runs the same query over one row of each file: it loads the Parquet reader and
the ASOF operator without sorting the whole feature file (an entities-only limit would still
sort all of it, a data-sized warm-up that ours' one-row call does not do).
"""

from __future__ import annotations

from _child import Timeline, finish, parse_args

SQL = """
SELECT e.*, {features}
FROM (SELECT * FROM read_parquet(?) {limit}) AS e
ASOF LEFT JOIN (
    SELECT user_id, {{'ts': event_timestamp, 'created': created}} AS k, {plain}
    FROM read_parquet(?) {limit}
) AS f
  ON e.user_id = f.user_id
 AND {{'ts': e.event_timestamp, 'created': 'infinity'::TIMESTAMPTZ}} >= f.k
ORDER BY e.entity_row
"""


def build_sql(features: list[str], ttl_seconds: int | None, *, warm_up: bool = False) -> str:
    plain = ", ".join(features)
    if ttl_seconds is None:
        selected = ", ".join(f"f.{name}" for name in features)
    else:
        fresh = f"f.k.ts >= e.event_timestamp - INTERVAL {int(ttl_seconds)} SECOND"
        selected = ", ".join(f"CASE WHEN {fresh} THEN f.{n} END AS {n}" for n in features)
    return SQL.format(features=selected, plain=plain, limit="LIMIT 1" if warm_up else "")


def main() -> None:
    timeline = Timeline()
    meta, out = parse_args()
    import duckdb

    timeline.mark("imported")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if meta.get("threads"):
        con.execute(f"SET threads = {int(meta['threads'])}")
    sql = build_sql(meta["feature_names"], meta.get("ttl_seconds"))
    params = [meta["entities_parquet"], meta["features_parquet"]]
    timeline.mark("warm_start")  # the same query on one row of each file (every engine warms up)
    warm_up = build_sql(meta["feature_names"], meta.get("ttl_seconds"), warm_up=True)
    con.sql(warm_up, params=params).to_arrow_table()
    timeline.mark("warm_end")
    timeline.mark("join_start")
    table = con.sql(sql, params=params).to_arrow_table()
    timeline.mark("join_end")
    finish(out, table, timeline, engine="duckdb", duckdb_version=duckdb.__version__)


if __name__ == "__main__":
    main()
