"""What every engine child process shares: arguments, a timeline, and the result hand-off.

Standard library and pyarrow only: this module also runs under Feast's own interpreter.
Engine scripts import it as ``_child`` (a script's folder is first on ``sys.path``).

Timeline marks are seconds since the parent spawned the process (``BENCH_SPAWN_NS``), so
interpreter start-up is part of the first mark.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

_SPAWN_NS = int(os.environ.get("BENCH_SPAWN_NS", time.time_ns()))


class Timeline:
    """Named marks in seconds since the process was spawned."""

    def __init__(self) -> None:
        self.marks: dict[str, float] = {"main": self.now()}

    @staticmethod
    def now() -> float:
        return (time.time_ns() - _SPAWN_NS) / 1e9

    def mark(self, name: str) -> float:
        self.marks[name] = self.now()
        return self.marks[name]

    def between(self, start: str, end: str) -> float:
        return self.marks[end] - self.marks[start]


def parse_args() -> tuple[dict[str, Any], Path]:
    """Return the harness metadata (``--work/meta.json``) and the output path."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", required=True, type=Path, help="folder written by the harness")
    parser.add_argument("--out", required=True, type=Path, help="result file (Arrow IPC)")
    parser.add_argument("--connect", help="JSON: featurestore.connect() arguments (ours only)")
    args = parser.parse_args()
    meta = json.loads((args.work / "meta.json").read_text(encoding="utf-8"))
    meta["work"] = str(args.work)
    if args.connect:
        meta["connect"] = json.loads(args.connect)
    return meta, args.out


def peak_rss_bytes() -> int:
    """This process's peak RSS: ``VmHWM`` (reset at exec), not ``ru_maxrss``.

    ``ru_maxrss`` (``getrusage`` or ``wait4``) is inherited across fork/exec, so a child of a
    harness holding 0.5 GB of generated data would report at least 0.5 GB whatever it did.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    # Not Linux: the fallback may include the parent's share.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def finish(out: Path, table: Any, timeline: Timeline, **extra: Any) -> None:
    """Write the result table and ``<out>.json`` (timeline, peak RSS, extra facts)."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    timeline.mark("result_ready")
    if not isinstance(table, pa.Table):
        msg = f"engine returned {type(table).__name__}, expected a pyarrow Table"
        raise TypeError(msg)
    with ipc.new_file(str(out), table.schema) as writer:
        writer.write_table(table)
    timeline.mark("written")
    report = {
        "rows": table.num_rows,
        "marks": timeline.marks,
        "peak_rss_bytes": peak_rss_bytes(),
        "python": sys.version.split()[0],
        **extra,
    }
    Path(f"{out}.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
