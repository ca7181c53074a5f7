"""The boundary with PyIceberg: loading the catalog and translating its errors.

Every call into PyIceberg (and through it HTTP / SQLAlchemy) that can fail goes through
:func:`translate_errors`, so callers only ever see :class:`~featurestore.errors.FeatureStoreError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from featurestore.config import mask_uri
from featurestore.errors import (
    CatalogError,
    CatalogUnavailableError,
    CommitConflictError,
    ConfigError,
    NotFoundError,
)

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

    from featurestore.config import StoreConfig

__all__ = ["connect_catalog", "ensure_namespace", "load_table_or_none", "translate_errors"]

_KNOWN_TYPES = ("rest", "sql", "glue", "hive", "dynamodb", "bigquery", "in-memory")


def connect_catalog(config: StoreConfig) -> Catalog:
    """Load the PyIceberg catalog that ``config`` describes.

    The embedded default creates its folder on first use. For every other catalog the
    properties are passed to :func:`pyiceberg.catalog.load_catalog` untouched.

    Raises:
        ConfigError: Unknown catalog type, or a warehouse folder that does not exist.
        CatalogUnavailableError: The catalog could not be reached.

    Example:
        >>> from featurestore.config import load_config
        >>> import tempfile, pathlib
        >>> home = pathlib.Path(tempfile.mkdtemp())
        >>> type(connect_catalog(load_config({"home": home}, environ={}))).__name__
        'SqlCatalog'
    """
    properties = config.catalog_properties()
    catalog_type = properties.get("type")
    if catalog_type is None and "py-catalog-impl" not in properties:
        msg = (
            f"Catalog configuration has no 'type' (got keys {sorted(properties)}). "
            f"Set catalog.type to one of {', '.join(_KNOWN_TYPES)}."
        )
        raise ConfigError(msg)
    if catalog_type is not None and catalog_type not in _KNOWN_TYPES:
        msg = (
            f"Unknown catalog type {catalog_type!r}. Valid types: {', '.join(_KNOWN_TYPES)} "
            "(or set 'py-catalog-impl' to a catalog class)."
        )
        raise ConfigError(msg)
    if config.is_embedded:
        home = config.home.expanduser().resolve()
        (home / "warehouse").mkdir(parents=True, exist_ok=True)
    else:
        _check_local_warehouse(properties)
    from pyiceberg.catalog import load_catalog

    where = mask_uri(str(properties.get("uri", properties.get("warehouse", catalog_type))))
    with translate_errors(f"connecting to the {catalog_type} catalog at {where!r}"):
        return load_catalog(config.catalog_name, **properties)


def ensure_namespace(catalog: Catalog, namespace: str) -> None:
    """Create ``namespace`` if it does not exist yet (safe under concurrent callers).

    Two processes creating the same namespace at once race between PyIceberg's existence
    check and its insert (on SQLite that surfaces as a UNIQUE constraint error); the loser
    finds the namespace there and carries on.
    """
    from pyiceberg.exceptions import NamespaceAlreadyExistsError

    try:
        with translate_errors(f"creating namespace {namespace!r}"):
            catalog.create_namespace_if_not_exists(namespace)
    except (CatalogError, NamespaceAlreadyExistsError):
        with translate_errors(f"checking namespace {namespace!r}"):
            if not catalog.namespace_exists(namespace):
                raise


def load_table_or_none(catalog: Catalog, name: str, *, action: str | None = None) -> Table | None:
    """Load table ``name``, or return ``None`` when it (or its namespace) does not exist.

    Every other failure is translated as usual.

    Example:
        >>> from featurestore.config import load_config
        >>> import tempfile, pathlib
        >>> catalog = connect_catalog(load_config({"home": tempfile.mkdtemp()}, environ={}))
        >>> load_table_or_none(catalog, "nowhere.nothing") is None
        True
    """
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    with translate_errors(action or f"loading table {name!r}"):
        try:
            return catalog.load_table(name)
        except (NoSuchTableError, NoSuchNamespaceError):
            return None


def _check_local_warehouse(properties: dict[str, str]) -> None:
    warehouse = properties.get("warehouse", "")
    parsed = urlparse(warehouse)
    if properties.get("type") == "sql" and parsed.scheme in ("file", ""):
        path = Path(parsed.path if parsed.scheme == "file" else warehouse)
        if warehouse and not path.is_dir():
            msg = (
                f"Warehouse folder {str(path)!r} does not exist. Create it "
                f"(mkdir -p {path}) or point catalog.warehouse at an existing folder."
            )
            raise ConfigError(msg)


@contextlib.contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """Translate PyIceberg, HTTP and SQLAlchemy errors raised inside the block.

    Args:
        action: What was being done, for the message ("committing to features.x").

    Raises:
        NotFoundError: A missing namespace or table.
        CommitConflictError: A concurrent commit won and the retries ran out.
        CatalogUnavailableError: The catalog server or database could not be reached.
        CatalogError: Any other catalog failure.
    """
    try:
        yield
    except Exception as exc:
        translated = _translate(exc, action)
        if translated is None:
            raise
        raise translated from exc


def _translate(exc: Exception, action: str) -> Exception | None:
    from pyiceberg import exceptions as ice

    from featurestore.errors import FeatureStoreError

    if isinstance(exc, FeatureStoreError):
        return None
    detail = mask_uri(_one_line(exc))
    if isinstance(exc, ice.NoSuchTableError):
        return NotFoundError("table", _name_from(detail), hint=f"({action})")
    if isinstance(exc, ice.NoSuchNamespaceError):
        return NotFoundError("namespace", _name_from(detail), hint=f"({action})")
    if isinstance(exc, ice.CommitFailedException):
        return CommitConflictError(
            f"Commit conflict while {action}: another writer committed first and the retries "
            f"ran out ({detail}). Nothing of this write was committed; re-run it."
        )
    if isinstance(exc, ice.ValidationException):
        return CommitConflictError(
            f"Commit conflict while {action}: a concurrent commit changed data this write "
            f"replaces ({detail}). Nothing of this write was committed; re-run it."
        )
    if isinstance(exc, ice.CommitStateUnknownException):
        return CatalogError(
            f"The outcome of a commit is unknown while {action} ({detail}): the catalog may "
            "or may not have applied it. Check the table's current snapshot before re-running."
        )
    if _is_connection_error(exc):
        return CatalogUnavailableError(
            f"Cannot reach the catalog while {action}: {detail}. "
            "Check that the server is running and the URI is right (`featurestore info`)."
        )
    if _is_catalog_error(exc):
        return CatalogError(f"Catalog error while {action}: {detail}")
    return None


def _is_catalog_error(exc: Exception) -> bool:
    module = type(exc).__module__
    return module.startswith(("pyiceberg", "sqlalchemy", "requests", "urllib3"))


def _is_connection_error(exc: Exception) -> bool:
    import requests

    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return True
    try:
        from sqlalchemy.exc import OperationalError
    except ImportError:  # pragma: no cover - sqlalchemy ships with the sql extra
        return False
    return isinstance(exc, OperationalError) and "unable to open" in str(exc)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _name_from(detail: str) -> str:
    for word in detail.replace(":", " ").split():
        if "." in word.strip("'\"`,"):
            return word.strip("'\"`,.")
    return detail
