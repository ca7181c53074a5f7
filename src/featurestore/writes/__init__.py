"""Writing features: tables from definitions, validated atomic writes, feature computation.

- :mod:`~featurestore.writes.tables`: create a feature table from a FeatureView, evolve it;
- :mod:`~featurestore.writes.validate`: check and cast incoming data before any commit;
- :mod:`~featurestore.writes.commit`: one write = one snapshot, in bounded chunks;
- :mod:`~featurestore.writes.uniqueness`: whether a write's rows are unique on (keys, time);
- :mod:`~featurestore.writes.writer`: :class:`FeatureWriter` (``append``, ``upsert``,
  ``replace_range``);
- :mod:`~featurestore.writes.materialize`: DuckDB SQL over Iceberg tables -> ``replace_range``.

Use them through :class:`featurestore.FeatureStore` (``store.write``, ``store.materialize``).
"""

from __future__ import annotations
