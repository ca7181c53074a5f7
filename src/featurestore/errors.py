"""The errors this package raises.

Every error derives from :class:`FeatureStoreError`, and each subclass also inherits the
builtin that matches its meaning, so ``except ValueError`` keeps working for callers that
do not know this package::

    FeatureStoreError
    ├── ConfigError                  (ValueError)   bad or missing configuration
    ├── DefinitionError              (ValueError)   an invalid entity / feature view / reference
    ├── DataValidationError          (ValueError)   data that does not fit its feature view
    ├── RetrievalError               (ValueError)   a bad point-in-time request
    ├── NotFoundError                (LookupError)  an unknown name; carries ``.candidates``
    │   └── SnapshotNotFoundError                   an ``as_of`` / expired snapshot
    ├── AlreadyExistsError           (ValueError)   an immutable record written twice
    ├── ReproducibilityError                        a rebuilt training set differs
    └── CatalogError                                the Iceberg catalog failed
        ├── CatalogUnavailableError  (ConnectionError)
        └── CommitConflictError                     a concurrent commit won; retry

Third-party errors (PyIceberg, HTTP, SQLAlchemy, DuckDB) are translated into this tree once,
at the boundary (:mod:`featurestore.catalog`), with the original kept as ``__cause__``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "AlreadyExistsError",
    "CatalogError",
    "CatalogUnavailableError",
    "CommitConflictError",
    "ConfigError",
    "DataValidationError",
    "DefinitionError",
    "FeatureStoreError",
    "NotFoundError",
    "ReproducibilityError",
    "RetrievalError",
    "SnapshotNotFoundError",
]


class FeatureStoreError(Exception):
    """Root of every error this package raises.

    Attributes:
        code: A stable, documented identifier of the error class (see ``docs/errors.md``).
    """

    code = "featurestore"


class ConfigError(FeatureStoreError, ValueError):
    """The configuration is invalid or incomplete."""

    code = "config"


class DefinitionError(FeatureStoreError, ValueError):
    """An entity, feature view or feature reference is invalid."""

    code = "definition"


class DataValidationError(FeatureStoreError, ValueError):
    """Data handed to a write does not match its feature view; nothing was written."""

    code = "data-validation"


class RetrievalError(FeatureStoreError, ValueError):
    """A point-in-time retrieval request is invalid (entity frame, features, ``as_of``)."""

    code = "retrieval"


class NotFoundError(FeatureStoreError, LookupError):
    """A named object does not exist.

    Attributes:
        kind: What was looked up (``"feature view"``, ``"table"``...).
        name: The name that was not found.
        scope: Where it was looked up (``"view 'spend'"``), if not the whole store.
        candidates: The closest existing names, best first.
    """

    code = "not-found"

    def __init__(
        self,
        kind: str,
        name: str,
        *,
        candidates: Iterable[str] = (),
        hint: str | None = None,
        scope: str | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.scope = scope
        known = list(candidates)
        self.candidates = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        message = f"Unknown {kind} {name!r}" + (f" in {scope}." if scope else ".")
        if self.candidates:
            message += f" Did you mean {self.candidates[0]!r}?"
        elif known and len(known) <= 10:
            message += f" Known: {', '.join(sorted(known))}."
        if hint:
            message += f" {hint}"
        super().__init__(message)


class SnapshotNotFoundError(NotFoundError):
    """A snapshot asked for (by id, time, tag or branch) is not in a table's history."""

    code = "snapshot-not-found"


class AlreadyExistsError(FeatureStoreError, ValueError):
    """An immutable record (a model run version, a table) already exists."""

    code = "already-exists"


class ReproducibilityError(FeatureStoreError):
    """A training set could not be rebuilt exactly as it was recorded."""

    code = "reproducibility"


class CatalogError(FeatureStoreError):
    """The Iceberg catalog failed or refused an operation."""

    code = "catalog"


class CatalogUnavailableError(CatalogError, ConnectionError):
    """The catalog could not be reached (server down, bad URI, missing warehouse)."""

    code = "catalog-unavailable"


class CommitConflictError(CatalogError):
    """A concurrent writer committed first and the retries ran out; re-run the operation."""

    code = "commit-conflict"
