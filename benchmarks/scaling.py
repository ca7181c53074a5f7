"""The ``--scaling`` study: time and memory against the rows a scan actually reads.

Three feature tables of 1M, 10M and 30M rows over the same 100k keys and 90 days, each joined
with the same 100k entity rows (ours and the DuckDB reference; Feast is left out, its range
join grows with history per key and size c already exhausts it). Then, on the 10M table, two
runs that should read less:

- ``narrow``: entity times in the first 7 days only, so the scan needs only ``ts <= max(t)``;
- ``ttl``: the view re-applied with a 7-day TTL and entity times in the last 7 days, so the
  scan needs only ``[min(t) - 7d, max(t)]``.

"Files / rows scanned" are what the engine reports in ``TrainingSet.scan_stats`` (files
planned and their record count: DuckDB reads them itself, so rows are counted per planned file);
the totals come from PyIceberg ``plan_files()`` without a filter.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.compare import compare
from benchmarks.data import FEATURES, Size, entity_frame
from benchmarks.prepare import VIEW

if TYPE_CHECKING:
    from benchmarks.run import Harness

__all__ = ["SCALING", "run_scaling"]

SCALING = [  # name, feature rows, keys, entity rows
    Size("1M", 1_000_000, 100_000, 100_000),
    Size("10M", 10_000_000, 100_000, 100_000),
    Size("30M", 30_000_000, 100_000, 100_000),
]
TTL = timedelta(days=7)


def run_scaling(harness: Harness) -> dict[str, Any]:
    """Run the study and print one line per run."""
    rows: list[dict[str, Any]] = []
    _header()
    sizes = [_scaled(size, harness.args.scaling_fraction) for size in SCALING]
    for size in sizes:
        work = harness.work_dir(f"scaling-{size.name}")
        connect = {"home": str(work / "store"), "namespace": "bench_fs"}
        harness.prepare(size, work, {"sqlite": connect})
        _set_ttl(connect, None)  # a cached store may still carry the TTL variant's TTL
        rows.append(_measure(harness, work, size, connect, ttl=None))
        if size.name == "10M":
            base = work
    narrow = replace(sizes[1], name="10M narrow", entity_window=(0, 7))
    rows.append(_variant(harness, base, narrow, ttl=None))
    recent = replace(sizes[1], name="10M ttl=7d", entity_window=(83, 90))
    rows.append(_variant(harness, base, recent, ttl=TTL))
    return {"runs": rows, "notes": ["Feast is not run in the scaling study.", __doc__]}


def _scaled(size: Size, fraction: float) -> Size:
    if fraction == 1.0:
        return size
    return replace(
        size,
        feature_rows=max(1, int(size.feature_rows * fraction)),
        keys=max(1, int(size.keys * fraction)),
        entity_rows=max(1, int(size.entity_rows * fraction)),
    )


def _variant(harness: Harness, base: Path, size: Size, *, ttl: timedelta | None) -> dict[str, Any]:
    """The 10M table with other entity rows (and, with ``ttl``, the view re-applied)."""
    import pyarrow.parquet as pq

    work = harness.tmp / f"scaling-{size.name.replace(' ', '-').replace('=', '')}"
    work.mkdir(parents=True, exist_ok=True)
    meta = json.loads((base / "meta.json").read_text(encoding="utf-8"))
    pq.write_table(entity_frame(size, seed=harness.args.seed), work / "entities.parquet")
    meta["entities_parquet"] = str(work / "entities.parquet")
    meta["ttl_seconds"] = int(ttl.total_seconds()) if ttl else None
    (work / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    if ttl is None:
        return _measure(harness, work, size, meta["connect"], ttl=ttl)
    _set_ttl(meta["connect"], ttl)
    try:
        return _measure(harness, work, size, meta["connect"], ttl=ttl)
    finally:
        _set_ttl(meta["connect"], None)  # the (possibly cached) 10M store goes back as it was


def _set_ttl(connect: dict[str, Any], ttl: timedelta | None) -> None:
    import featurestore

    store = featurestore.connect(**connect)
    view = store.get_feature_view(VIEW)
    if view.ttl != ttl:
        store.apply([store.get_entity("user"), view.model_copy(update={"ttl": ttl})])


def _measure(
    harness: Harness, work: Path, size: Size, connect: dict[str, Any], *, ttl: timedelta | None
) -> dict[str, Any]:
    from benchmarks import report
    from benchmarks.run import load_result

    runs = harness.run_all(
        {
            "duckdb": harness.command("duckdb", work, "duckdb"),
            "ours": harness.command("ours", work, "ours", "--connect", json.dumps(connect)),
        }
    )
    row: dict[str, Any] = {"label": size.name, "feature_rows": size.feature_rows}
    row.update(planned_scan(connect, work / "entities.parquet", ttl=ttl))
    for name, run in runs.items():
        row[name] = report.summarize(run, size.entity_rows)
    stats = (row["ours"]["details"].get("scan_stats") or {}).get(VIEW)
    if stats:  # what the engine itself planned and read (TrainingSet.scan_stats)
        row["files_scanned"], row["rows_scanned"] = stats["files_planned"], stats["rows_planned"]
        row["engine_scan_stats"] = stats
    if all(run.ok for run in runs.values()):
        expected, got = load_result(runs["duckdb"]), load_result(runs["ours"])
        row["agreement"] = compare(expected, got, ["user_id", *FEATURES]).to_dict()
    _line(row)
    return row


def planned_scan(
    connect: dict[str, Any], entities: Path, *, ttl: timedelta | None
) -> dict[str, int]:
    """Files and rows PyIceberg plans for the time range ``[min(t) - ttl, max(t)]``."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from pyiceberg import expressions as ex

    import featurestore

    ts = pq.read_table(entities, columns=["event_timestamp"])["event_timestamp"]
    low, high = pc.min(ts).as_py(), pc.max(ts).as_py()
    le: Any = ex.LessThanOrEqual  # pyiceberg's predicate classes confuse mypy
    ge: Any = ex.GreaterThanOrEqual
    expr: Any = le("event_timestamp", high.isoformat())
    if ttl is not None:
        expr = ex.And(expr, ge("event_timestamp", (low - ttl).isoformat()))
    store = featurestore.connect(**connect)
    table = store.load_table(store.get_feature_view(VIEW).table)
    tasks = list(table.scan(row_filter=expr).plan_files())
    everything = list(table.scan().plan_files())
    return {
        "files_scanned": len(tasks),
        "rows_scanned": sum(t.file.record_count for t in tasks),
        "files_total": len(everything),
        "rows_total": sum(t.file.record_count for t in everything),
    }


def _header() -> None:
    print("\nscaling: rows scanned vs time and memory (same entity rows and keys in every run)")
    print(
        f"{'run':<12}{'files':>11}{'rows scanned':>14}{'ours s':>8}{'ours GiB':>9}"
        f"{'duckdb s':>9}{'duckdb GiB':>11}  result"
    )


def _line(row: dict[str, Any]) -> None:
    ours, duck = row["ours"], row["duckdb"]
    check = row.get("agreement", {}).get("summary", f"FAILED: {ours['error'] or duck['error']}")
    print(
        f"{row['label']:<12}{row['files_scanned']:>5}/{row['files_total']:<5}"
        f"{row['rows_scanned']:>14,}{ours['join_s'] or 0:>8.2f}"
        f"{ours['peak_rss_bytes'] / 2**30:>9.2f}{duck['join_s'] or 0:>9.2f}"
        f"{duck['peak_rss_bytes'] / 2**30:>11.2f}  {check}",
        flush=True,
    )
