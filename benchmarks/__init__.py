"""Point-in-time retrieval benchmark: featurestore vs plain DuckDB ASOF vs Feast 0.67.

Run ``python -m benchmarks.run --sizes a,d`` (or ``make bench``); see ``benchmarks/README.md``.
"""
