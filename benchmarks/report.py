"""Turn engine runs into figures: a printed table, a JSON file and a PNG chart.

Columns (see README.md): ``join s`` is the join phase, after a one-row warm-up call (for
ours: ``get_historical_features`` + ``to_arrow``, i.e. registry, planning, Iceberg scan,
DuckDB join, Arrow result; for DuckDB: the ASOF query over Parquet to Arrow; for Feast:
``get_historical_features().to_arrow()``); ``first s`` is that warm-up call (the first call
of the process, for one entity row: imports and connections made on first use); ``process
s`` is the whole child process, spawn to exit; ``fixed s`` is the work before the first row
is read; ``peak GiB`` is the child's peak RSS; ``rows/s`` is entity rows / join s.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmarks.measure import EngineRun

__all__ = ["fixed_overhead", "print_size", "summarize", "write_chart", "write_json"]

GIB = 2**30


def fixed_overhead(run: EngineRun) -> float | None:
    """Seconds of work before the first feature row is read (``None`` if not measurable)."""
    if run.engine.startswith("ours"):
        before = run.span("input_ready", "connected")
        planning = run.span("warm_start", "first_read")
        return None if before is None or planning is None else before + planning
    if run.engine == "feast":
        return run.span("main", "connected")
    return run.span("main", "imported")


def summarize(run: EngineRun, entity_rows: int) -> dict[str, Any]:
    """The figures of one engine run, as plain data."""
    join = run.span("join_start", "join_end") if run.ok else None
    return {
        "ok": run.ok,
        "error": run.error,
        "join_s": join,
        "first_call_s": run.span("warm_start", "warm_end") if run.ok else None,
        "process_s": run.wall_s,
        "fixed_overhead_s": fixed_overhead(run) if run.ok else None,
        "peak_rss_bytes": run.peak_rss_bytes,
        "rows": run.report.get("rows"),
        "rows_per_s": entity_rows / join if join else None,
        "marks": run.report.get("marks"),
        "details": {k: v for k, v in run.report.items() if k not in ("marks", "rows")},
    }


def ratios(engines: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """``ours`` / other for join time and peak RSS (``None`` when either side failed).

    Against Feast also the whole process (``process``): what a one-shot pipeline waits for.
    """
    out: dict[str, float | None] = {}
    ours = engines.get("ours", {})
    for other in ("duckdb", "feast", "ours[rest]"):
        theirs = engines.get(other)
        if theirs is None:
            continue
        measures = [("join_s", "time"), ("peak_rss_bytes", "rss")]
        if other == "feast":
            measures.append(("process_s", "process"))
        for key, label in measures:
            a, b = ours.get(key), theirs.get(key)
            ok = ours.get("ok") and theirs.get("ok")
            out[f"ours/{other} {label}"] = a / b if ok and a and b else None
        mine, yours = _median_join(ours), _median_join(theirs)
        if other == "duckdb" and mine and yours:  # with --repeat: less sensitive to one outlier
            out[f"ours/{other} time (medians)"] = mine / yours
    return out


def _median_join(engine: dict[str, Any]) -> float | None:
    """The median join time over the repeats (``--repeat``), or None with fewer than 2."""
    times = [t for t in engine.get("details", {}).get("join_s_all") or [] if t is not None]
    return statistics.median(times) if len(times) > 1 else None


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_size(result: dict[str, Any]) -> None:
    """Print the table of one size: one line per engine, then the ratios."""
    size = result["size"]
    print(
        f"\nsize {size['name']}: {size['feature_rows']:,} feature rows, {size['keys']:,} keys, "
        f"{size['entity_rows']:,} entity rows"
    )
    header = f"{'engine':<12}{'join s':>9}{'first s':>9}{'process s':>11}{'fixed s':>9}"
    print(header + f"{'peak GiB':>10}{'rows/s':>13}  result")
    for name, e in result["engines"].items():
        check = result["agreement"].get(name, {}).get("summary", "reference")
        if not e["ok"]:
            check = f"FAILED: {e['error']}"
        print(
            f"{name:<12}{_fmt(e['join_s'], '.2f'):>9}{_fmt(e['first_call_s'], '.2f'):>9}"
            f"{_fmt(e['process_s'], '.2f'):>11}"
            f"{_fmt(e['fixed_overhead_s'], '.2f'):>9}{e['peak_rss_bytes'] / GIB:>10.2f}"
            f"{_fmt(e['rows_per_s'], ',.0f'):>13}  {check}"
        )
    for note in result.get("notes", []):
        print(f"  note: {note}")
    shown = [f"{k} {v:.2f}x" for k, v in result["ratios"].items() if v is not None]
    if shown:
        print("  ratios: " + ", ".join(shown))


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


def write_chart(sizes: list[dict[str, Any]], path: Path) -> None:
    """Grouped bars per size: join time (left) and peak RSS (right), one bar per engine."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    engines = sorted({name for s in sizes for name in s["engines"]}, key=_engine_order)
    fig, (ax_time, ax_mem) = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / max(1, len(engines))
    for i, name in enumerate(engines):
        xs = [j + i * width for j in range(len(sizes))]
        runs = [s["engines"].get(name, {}) for s in sizes]
        ax_time.bar(xs, [r.get("join_s") or 0 for r in runs], width, label=name)
        ax_mem.bar(xs, [(r.get("peak_rss_bytes") or 0) / GIB for r in runs], width, label=name)
    labels = [s["size"]["name"] for s in sizes]
    for ax, title in ((ax_time, "join time (s)"), (ax_mem, "peak RSS (GiB)")):
        ax.set_xticks([j + width * (len(engines) - 1) / 2 for j in range(len(sizes))], labels)
        ax.set_title(title)
        ax.set_xlabel("size")
    ax_time.legend()
    fig.suptitle("Point-in-time join: featurestore vs DuckDB ASOF vs Feast (missing bar = failed)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _engine_order(name: str) -> tuple[int, str]:
    order = ["ours", "ours[rest]", "duckdb", "feast"]
    return (order.index(name) if name in order else len(order), name)
