"""The tie-free plan against the full rank, on the same tables: ``python -m benchmarks.tie_free``.

When the planned rows are proven unique on (keys, event time) (``featurestore.unique-on`` in
the snapshot summaries, retrieval/bounds.py), the join ranks on the event time alone. The
harness's data has ~1% ties on purpose, so it always takes the full rank; this study writes
each size's feature rows *without* the tie losers (rows that can never win in event mode: the
answer is the same) into a fresh store, then times, in one process and interleaved, the same
call with the proof (tie-free plan) and with the proof switched off (full rank: ``(ts,
created, commit position)``), and the DuckDB ASOF reference over the same rows as Parquet.
Every result is checked against the reference.

    .venv/bin/python -m benchmarks.tie_free --sizes a,b --repeat 5 --data-cache /tmp/fsbench/cache2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.compare import compare
from benchmarks.data import FEATURES, SIZES, Size, entity_frame, feature_table
from benchmarks.engines import ENGINE_DIR
from benchmarks.prepare import VIEW, write_store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="a", help="comma-separated: a, b, c, d, tiny")
    parser.add_argument("--repeat", type=int, default=5, help="timed calls per plan")
    parser.add_argument("--data-cache", type=Path, help="keep the tie-free stores here")
    args = parser.parse_args(argv)
    root = args.data_cache or Path(tempfile.mkdtemp(prefix="fs-tie-free-"))
    print(f"{'size':5} {'plan used':10} {'tie-free s':>10} {'full rank s':>11} "
          f"{'ratio':>6} {'DuckDB s':>9}  result")  # fmt: skip
    ok = True
    for name in args.sizes.split(","):
        ok &= _study(SIZES[name], root / f"{name}-tie-free", args.repeat)
    return 0 if ok else 1


def _study(size: Size, work: Path, repeat: int) -> bool:
    import pyarrow.parquet as pq

    import featurestore
    import featurestore.retrieval.engine as engine
    from featurestore.retrieval import bounds

    connect = {"home": str(work / "store"), "namespace": "bench_fs"}
    features = work / "features.parquet"
    if not features.exists():
        work.mkdir(parents=True, exist_ok=True)
        table = _without_tie_losers(feature_table(size))
        write_store(connect, table, ttl=None)
        pq.write_table(table, features)  # last: its presence marks a complete store
    entities = entity_frame(size)
    store = featurestore.connect(**connect)
    plans: list[bool] = []
    used: dict[bool, list[bool]] = {True: [], False: []}  # tie_free of each join built
    original_build, original_holds = engine.build_sql, bounds.TieFree.holds

    def spy(**options: Any) -> str:
        plans.extend(view.tie_free for view in options["views"])
        return original_build(**options)

    def call(*, proof: bool) -> tuple[float, Any]:
        if not proof:  # the proof fails: the full rank
            bounds.TieFree.holds = lambda self: False  # type: ignore[method-assign]
        plans.clear()
        try:
            start = time.perf_counter()
            result = store.get_historical_features(entities, [f"{VIEW}:*"]).to_arrow()
            seconds = time.perf_counter() - start
        finally:
            bounds.TieFree.holds = original_holds  # type: ignore[method-assign]
        used[proof].extend(plans)
        return seconds, result

    engine.build_sql = spy  # type: ignore[assignment]
    try:
        store.get_historical_features(entities.slice(0, 1), [f"{VIEW}:*"]).to_arrow()  # warm-up
        times: dict[bool, list[float]] = {True: [], False: []}
        results: dict[bool, Any] = {}
        for i in range(repeat):
            for proof in (True, False) if i % 2 == 0 else (False, True):
                seconds, results[proof] = call(proof=proof)
                times[proof].append(seconds)
    finally:
        engine.build_sql = original_build  # type: ignore[assignment]
    reference_s, reference = _reference(features, work / "entities.parquet", entities)
    agree = [compare(reference, r, list(FEATURES)) for r in results.values()]
    planned = all(used[True]) and not any(used[False])
    fast, full = statistics.median(times[True]), statistics.median(times[False])
    summary = "; ".join(sorted({a.summary() for a in agree}))
    plan = "tie-free" if all(used[True]) else "full rank"
    print(f"{size.name:5} {plan:10} {fast:10.3f} {full:11.3f} {fast / full:5.2f}x "
          f"{reference_s:9.3f}  {summary}")  # fmt: skip
    return all(a.agrees for a in agree) and planned


def _without_tie_losers(table: Any) -> Any:
    """Keep, per (user_id, event_timestamp), the row with the greatest ``created``."""
    import numpy as np

    keys = table["user_id"].to_numpy()
    ts = table["event_timestamp"].cast("int64").to_numpy()
    created = table["created"].cast("int64").to_numpy()
    order = np.lexsort((created, ts, keys))
    last = np.r_[(keys[order][1:] != keys[order][:-1]) | (ts[order][1:] != ts[order][:-1]), True]
    keep = np.sort(order[last])  # the input's (time) order
    return table.take(keep)


def _reference(features: Path, entities_path: Path, entities: Any) -> tuple[float, Any]:
    """The DuckDB ASOF reference over the Parquet files (fastest of three runs) and its result."""
    import duckdb
    import pyarrow.parquet as pq

    sys.path.insert(0, str(ENGINE_DIR))
    from duckdb_asof import build_sql  # type: ignore[import-not-found]

    pq.write_table(entities, entities_path)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    sql, params = build_sql(list(FEATURES), None), [str(entities_path), str(features)]
    best, result = float("inf"), None
    for _ in range(3):
        start = time.perf_counter()
        result = con.sql(sql, params=params).to_arrow_table()
        best = min(best, time.perf_counter() - start)
    con.close()
    return best, result


if __name__ == "__main__":
    raise SystemExit(main())
