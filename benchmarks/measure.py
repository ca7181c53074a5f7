"""Run one engine script in a fresh subprocess and measure it.

Peak memory is the child's own high-water mark (``VmHWM``, reported by the child at exit; not
``ru_maxrss``, which a child inherits from the parent that forked it). A watchdog samples the
child's RSS with psutil every 50 ms: it gives the peak of a child that died before reporting,
and it kills the child (by its PID) when it passes ``max_rss_bytes`` or runs longer than
``timeout_s``; the run is then reported as killed, with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["EngineRun", "run_engine"]

_POLL_S = 0.05


@dataclass
class EngineRun:
    """What one engine subprocess did.

    Attributes:
        engine: Engine label (``ours``, ``ours[rest]``, ``duckdb``, ``feast``).
        ok: The child exited 0 and wrote its result.
        wall_s: Whole-process wall time, spawn to exit.
        peak_rss_bytes: The child's peak RSS (its ``VmHWM``; the sampled peak if it died).
        report: The child's own JSON report (timeline marks, rows, versions...).
        result_path: The Arrow IPC result file.
        error: Why it failed or was killed (``None`` when ``ok``).
    """

    engine: str
    ok: bool
    wall_s: float
    peak_rss_bytes: int
    report: dict[str, Any] = field(default_factory=dict)
    result_path: Path | None = None
    error: str | None = None

    def mark(self, name: str) -> float | None:
        marks: dict[str, float] = self.report.get("marks", {})
        return marks.get(name)

    def span(self, start: str, end: str) -> float | None:
        a, b = self.mark(start), self.mark(end)
        return None if a is None or b is None else b - a


class _Watchdog(threading.Thread):
    def __init__(self, pid: int, *, max_rss_bytes: int, timeout_s: float) -> None:
        super().__init__(daemon=True)
        import psutil

        self.process = psutil.Process(pid)
        self.max_rss_bytes = max_rss_bytes
        self.deadline = time.monotonic() + timeout_s
        self.stopped = threading.Event()
        self.killed: str | None = None
        self.sampled_peak = 0

    def run(self) -> None:
        import psutil

        while not self.stopped.wait(_POLL_S):
            try:
                rss = self.process.memory_info().rss
                self.sampled_peak = max(self.sampled_peak, rss)
                if rss > self.max_rss_bytes:
                    self._kill(f"killed at {rss / 2**30:.1f} GiB RSS (limit {self._limit()})")
                elif time.monotonic() > self.deadline:
                    self._kill("killed: timeout")
            except psutil.NoSuchProcess:
                return

    def _limit(self) -> str:
        return f"{self.max_rss_bytes / 2**30:.0f} GiB"

    def _kill(self, reason: str) -> None:
        self.killed = reason
        self.process.kill()
        self.stopped.set()


def run_engine(
    engine: str,
    command: list[str],
    *,
    out: Path,
    max_rss_bytes: int,
    timeout_s: float,
) -> EngineRun:
    """Run ``command`` (an engine script with ``--out out``), wait, and collect its report."""
    log_path = Path(f"{out}.log")
    env = dict(os.environ, BENCH_SPAWN_NS=str(time.time_ns()), PYTHONUNBUFFERED="1")
    start = time.perf_counter()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        watchdog = _Watchdog(proc.pid, max_rss_bytes=max_rss_bytes, timeout_s=timeout_s)
        watchdog.start()
        _, status, _ = os.wait4(proc.pid, 0)
        watchdog.stopped.set()
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    report_path = Path(f"{out}.json")
    if proc.returncode == 0 and report_path.exists():
        report = json.loads(report_path.read_text(encoding="utf-8"))
        report["sampled_peak_rss_bytes"] = watchdog.sampled_peak
        return EngineRun(engine, True, wall, int(report["peak_rss_bytes"]), report, out)
    reason = watchdog.killed or f"exit code {proc.returncode}: {_tail(log_path)}"
    return EngineRun(engine, False, wall, watchdog.sampled_peak, error=reason)


def _tail(path: Path, lines: int = 6) -> str:
    text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return " | ".join(line.strip() for line in text[-lines:])[-1200:]
