"""Optional integrations with other tools; each module imports its tool lazily.

- :mod:`featurestore.integrations.mlflow`: log training-set lineage to MLflow runs
  (``pip install 'featurestore[mlflow]'``).
"""

from __future__ import annotations
