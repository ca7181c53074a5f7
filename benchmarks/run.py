"""Benchmark entry point: ``python -m benchmarks.run --sizes a,d [--catalog sqlite|rest]``.

For each size, in one run: generate the seeded data, write it into a featurestore (embedded
SQLite catalog in a temporary folder; a REST catalog server with ``--catalog rest``) and as
Parquet, then run each engine in a fresh subprocess (ours, plain DuckDB ASOF, Feast 0.67 when
its virtual environment exists), check that they agree row for row, and print / save the
figures. ``--scaling`` adds the rows-scanned study (see :mod:`benchmarks.scaling`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.compare import compare
from benchmarks.data import FEATURES, SIZES, Size
from benchmarks.engines import SCRIPTS
from benchmarks.measure import EngineRun, run_engine
from benchmarks.prepare import Prepared, prepare, prepare_stores
from featurestore.config import StoreConfig

DEFAULT_FEAST_VENV = Path.home() / ".cache" / "featurestore" / "feast-venv"
GIB = 2**30


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--sizes", default="a,d", help=f"comma list of {', '.join(SIZES)}")
    parser.add_argument("--catalog", default="sqlite", help="sqlite, rest, or sqlite,rest")
    parser.add_argument("--scaling", action="store_true", help="add the rows-scanned study")
    parser.add_argument(
        "--scaling-fraction", type=float, default=1.0, help="shrink the scaling study (tests)"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--workdir", type=Path, help="where temporary data goes (default: /tmp)")
    parser.add_argument(
        "--data-cache",
        type=Path,
        help="keep each size's generated data and SQLite store here and reuse it next time "
        "(same size and seed); REST stores are always written afresh",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per engine; the fastest is kept"
    )
    parser.add_argument("--threads", type=int, help="DuckDB threads for every engine")
    parser.add_argument("--rest-uri", help="use this REST catalog instead of starting one")
    parser.add_argument("--feast-venv", type=Path, default=DEFAULT_FEAST_VENV)
    parser.add_argument("--no-feast", action="store_true", help="skip Feast (said in the report)")
    parser.add_argument("--max-rss-gib", type=float, default=12.0, help="kill an engine above")
    parser.add_argument("--timeout", type=float, default=900.0, help="kill an engine after (s)")
    args = parser.parse_args(argv)
    unknown = [s for s in args.sizes.split(",") if s not in SIZES]
    if unknown:
        parser.error(f"unknown sizes {unknown}; valid: {', '.join(SIZES)}")
    bad = [c for c in args.catalog.split(",") if c not in ("sqlite", "rest")]
    if bad:
        parser.error(f"unknown catalogs {bad}; valid: sqlite, rest")
    return args


def feast_python(args: argparse.Namespace) -> tuple[Path | None, str]:
    """Feast's interpreter, or ``None`` and the reason it will not run."""
    if args.no_feast:
        return None, "Feast skipped: --no-feast was given."
    python = args.feast_venv / "bin" / "python"
    if not python.exists():
        return None, (
            f"Feast not installed ({python} is missing): run `bash scripts/setup-feast-venv.sh` "
            "to include it."
        )
    return python, f"Feast from {args.feast_venv}"


class Harness:
    """Runs engines for one invocation; holds the options and the REST server, if any."""

    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.catalog_kinds = args.catalog.split(",")
        self.feast, self.feast_note = feast_python(args)
        self.rest_uri: str | None = None

    def connect_args(self, size: Size, work: Path) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for kind in self.catalog_kinds:
            if kind == "sqlite":
                out[kind] = {"home": str(work / "store"), "namespace": "bench_fs"}
            else:
                namespace = f"bench_{size.name}_{uuid.uuid4().hex[:8]}"
                out[kind] = {
                    "catalog": {"type": "rest", "uri": self.rest_uri},
                    "namespace": namespace,
                }
        return out

    def work_dir(self, name: str) -> Path:
        """The folder of one data set: in the data cache when one is given."""
        cache: Path | None = self.args.data_cache
        return (cache if cache is not None else self.tmp) / name

    def prepare(self, size: Size, work: Path, connect: dict[str, dict[str, Any]]) -> Prepared:
        """Generate and write ``size``, or reuse the cached SQLite store of an earlier run."""
        key = {
            "size": size.__dict__,
            "seed": self.args.seed,
            "threads": self.args.threads,
            "parquet_compression": StoreConfig().parquet_compression,  # the files' codec
        }
        marker = work / "cache-key.json"
        cached = self.args.data_cache is not None and marker.exists()
        if cached and json.loads(marker.read_text(encoding="utf-8")) == key:
            print(f"[{size.name}] reusing the cached data in {work}", flush=True)
            todo = {k: v for k, v in connect.items() if k != "sqlite"}
            prepared = Prepared(work, size, size.feature_rows, connect=dict(connect))
            if todo:
                prepared = prepare_stores(size, work, catalogs=todo, seed=self.args.seed)
            return prepared
        if work.exists() and self.args.data_cache is not None:
            shutil.rmtree(work)  # a stale or partial cache entry
        print(f"[{size.name}] generating and writing data ...", flush=True)
        prepared = prepare(
            size, work, catalogs=connect, seed=self.args.seed, threads=self.args.threads
        )
        marker.write_text(json.dumps(key, default=str), encoding="utf-8")
        return prepared

    def label(self, kind: str) -> str:
        return "ours" if kind == self.catalog_kinds[0] else f"ours[{kind}]"

    def command(self, engine: str, work: Path, out_name: str, *extra: str) -> list[str]:
        """The command line of one engine's child process."""
        script = SCRIPTS["ours" if engine.startswith("ours") else engine]
        python = self.feast if engine == "feast" else Path(sys.executable)
        out = work / f"{out_name}.arrow"
        return [str(python), str(script), "--work", str(work), "--out", str(out), *extra]

    def engines(self, work: Path, connect: dict[str, dict[str, Any]]) -> dict[str, EngineRun]:
        """Run the reference, ours on each catalog, and Feast when installed."""
        commands = {"duckdb": self.command("duckdb", work, "duckdb")}
        for kind, args in connect.items():
            label = self.label(kind)
            commands[label] = self.command(label, work, label, "--connect", json.dumps(args))
        if self.feast is not None:
            commands["feast"] = self.command("feast", work, "feast")
        return self.run_all(commands)

    def run_all(self, commands: dict[str, list[str]]) -> dict[str, EngineRun]:
        """Run each engine ``--repeat`` times, interleaved (one round = each engine once).

        Rounds rather than one engine's runs back to back, so that a change in the machine's
        load over the minutes of a run shifts every engine's median alike. An engine that
        fails is not run again. Each engine's run with the fastest join is kept, with every
        join time in ``join_s_all``.
        """
        runs: dict[str, list[EngineRun]] = {name: [] for name in commands}
        for _ in range(max(1, self.args.repeat)):
            for name, command in commands.items():
                if runs[name] and not runs[name][-1].ok:
                    continue
                runs[name].append(
                    run_engine(
                        name,
                        command,
                        out=Path(command[command.index("--out") + 1]),
                        max_rss_bytes=int(self.args.max_rss_gib * GIB),
                        timeout_s=self.args.timeout,
                    )
                )
        return {name: _best(done) for name, done in runs.items()}


def _best(runs: list[EngineRun]) -> EngineRun:
    """The run with the fastest join (a failed last run: that failure), with all join times."""
    if not runs[-1].ok:
        return runs[-1]
    best = min(runs, key=lambda r: r.span("join_start", "join_end") or float("inf"))
    best.report["join_s_all"] = [r.span("join_start", "join_end") for r in runs]
    return best


def load_result(run: EngineRun) -> Any:
    """The Arrow table an engine run wrote."""
    import pyarrow.ipc as ipc

    return ipc.open_file(str(run.result_path)).read_all()


def check(runs: dict[str, EngineRun]) -> tuple[dict[str, Any], list[str]]:
    """Compare every engine with the DuckDB reference."""
    reference = runs["duckdb"]
    if not reference.ok or reference.result_path is None:
        return {}, [f"no reference result (DuckDB failed: {reference.error}); nothing compared"]
    expected = load_result(reference)
    columns = ["user_id", "event_timestamp", *FEATURES]
    agreement: dict[str, Any] = {}
    for name, run in runs.items():
        if name == "duckdb" or not run.ok or run.result_path is None:
            continue
        got = load_result(run)
        agreement[name] = compare(expected, got, columns).to_dict()
    return agreement, []


def run_size(harness: Harness, size: Size) -> dict[str, Any]:
    work = harness.work_dir(size.name)
    connect = harness.connect_args(size, work)
    prepared = harness.prepare(size, work, connect)
    print(f"[{size.name}] prepared: {prepared.timings} files={prepared.files}", flush=True)
    runs = harness.engines(work, connect)
    agreement, notes = check(runs)
    if harness.feast is None:
        notes.append(harness.feast_note)
    engines = {name: report.summarize(run, size.entity_rows) for name, run in runs.items()}
    return {
        "size": {**size.__dict__, "rows_per_key": size.rows_per_key},
        "prepare": {"timings": prepared.timings, "data_files": prepared.files},
        "engines": engines,
        "agreement": agreement,
        "ratios": report.ratios(engines),
        "notes": notes,
        "load_average_after": os.getloadavg(),
    }


def environment() -> dict[str, Any]:
    import duckdb
    import pyarrow
    import pyiceberg

    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {
            "duckdb": duckdb.__version__,
            "pyarrow": pyarrow.__version__,
            "pyiceberg": pyiceberg.__version__,
        },
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict[str, Any] = {"environment": environment(), "argv": sys.argv[1:], "sizes": []}
    with tempfile.TemporaryDirectory(prefix="fs-bench-", dir=args.workdir) as tmp:
        harness = Harness(args, Path(tmp))
        print(harness.feast_note, flush=True)
        harness.rest_uri = args.rest_uri
        server = None
        if "rest" in harness.catalog_kinds and args.rest_uri is None:
            server = _start_rest(harness)
        try:
            for name in args.sizes.split(","):
                result = run_size(harness, SIZES[name])
                report.print_size(result)
                results["sizes"].append(result)
            if args.scaling:
                from benchmarks.scaling import run_scaling

                results["scaling"] = run_scaling(harness)
        finally:
            if server is not None:
                server.stop()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    report.write_json(results, args.out / f"bench-{stamp}.json")
    report.write_chart(results["sizes"], args.out / f"bench-{stamp}.png")
    print(f"\nwrote {args.out / f'bench-{stamp}.json'} and .png")
    failed = [s["size"]["name"] for s in results["sizes"] if _disagrees(s)]
    return 1 if failed else 0


def _disagrees(result: dict[str, Any]) -> bool:
    """Ours must agree with the reference; Feast's disagreements are findings, not failures."""
    return any(
        not a["agrees"] for name, a in result["agreement"].items() if name.startswith("ours")
    ) or not all(e["ok"] for n, e in result["engines"].items() if n != "feast")


def _start_rest(harness: Harness) -> Any:
    repo = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(repo / "tests"))
    from rest_catalog.server import start_rest_catalog

    server = start_rest_catalog(harness.tmp / "rest-catalog")
    harness.rest_uri = server.uri
    return server


if __name__ == "__main__":
    raise SystemExit(main())
