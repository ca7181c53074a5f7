"""The engines the benchmark compares, each run as a script in a fresh subprocess.

Each script reads ``<work>/meta.json`` (paths and names written by the harness), runs one
point-in-time join, and writes the result (Arrow IPC) and its timings (JSON) through
:mod:`benchmarks.engines._child`. Scripts are run by path, not as modules, so that the Feast
engine can run under Feast's own interpreter without our package installed.
"""

from __future__ import annotations

from pathlib import Path

ENGINE_DIR = Path(__file__).resolve().parent
SCRIPTS = {
    "ours": ENGINE_DIR / "ours.py",
    "duckdb": ENGINE_DIR / "duckdb_asof.py",
    "feast": ENGINE_DIR / "feast_duckdb.py",
}
"""Engine name -> script."""
