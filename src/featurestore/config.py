"""Configuration: one :class:`StoreConfig`, resolved from four layers.

Precedence, lowest first (explicit wins):

1. defaults: an embedded PyIceberg ``SqlCatalog`` on SQLite under ``./.featurestore/``;
2. ``featurestore.yaml`` in the current folder, or the file named by ``FEATURESTORE_CONFIG``;
3. ``FEATURESTORE_*`` environment variables;
4. keyword arguments to :func:`featurestore.connect`.

Environment variables follow PyIceberg's convention: ``FEATURESTORE_NAMESPACE=fs``,
``FEATURESTORE_CATALOG__URI=http://...``; under ``CATALOG`` a double underscore becomes a dot
and a single one a dash, so ``FEATURESTORE_CATALOG__S3__ACCESS_KEY_ID`` is ``s3.access-key-id``.

Nothing is read at import time; :func:`load_config` does the work when it is called.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from featurestore._internal.identifiers import validate_identifier
from featurestore.errors import ConfigError

__all__ = ["EngineConfig", "StoreConfig", "load_config", "mask_secrets", "mask_uri"]

CONFIG_FILE_NAME = "featurestore.yaml"
ENV_PREFIX = "FEATURESTORE_"
_SECRET_KEY = re.compile(
    r"token|credential|secret|password|passwd|private|session|api[-_.]?key", re.IGNORECASE
)
_MASK = "********"
_URI_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):[^@/\s]*@")
_URI_SECRET_PARAM = re.compile(
    r"(?P<head>[?&](?:[^=&\s]*(?:token|secret|password|credential|key)[^=&\s]*)=)[^&\s]*",
    re.IGNORECASE,
)


ParquetCompression = Literal["snappy", "zstd", "lz4", "gzip", "uncompressed"]
"""Parquet codecs a created table may use (Iceberg's ``write.parquet.compression-codec``)."""


class EngineConfig(BaseModel):
    """Settings of the DuckDB engine that runs point-in-time joins.

    Attributes:
        threads: DuckDB worker threads; ``None`` lets DuckDB use every core.
        memory_limit: DuckDB memory limit such as ``"4GB"``; ``None`` keeps DuckDB's default.
        temp_directory: Where DuckDB may spill; ``None`` keeps DuckDB's default.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    threads: int | None = Field(default=None, ge=1)
    memory_limit: str | None = None
    temp_directory: str | None = None


class StoreConfig(BaseModel):
    """The resolved configuration of one feature store.

    Attributes:
        catalog_name: The name given to the PyIceberg catalog.
        catalog: PyIceberg catalog properties, passed through untouched (``type``, ``uri``,
            ``warehouse``, ``token``, ``s3.*``...). Empty means the embedded default.
        namespace: The namespace of the store's system tables (registry, model runs...).
        home: Folder of the embedded default catalog and warehouse.
        partition_granularity: Default partition transform of created feature tables.
        parquet_compression: Codec of the Parquet files of tables the store creates
            (``snappy`` by default: it decodes about twice as fast as Iceberg's default
            ``zstd``, for files about 10% larger; see ``docs/configuration.md``).
        engine: DuckDB settings.
        sources: Where each layer came from, lowest precedence first (for ``featurestore info``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    catalog_name: str = "featurestore"
    catalog: dict[str, str] = Field(default_factory=dict)
    namespace: str = "featurestore"
    home: Path = Path(".featurestore")
    partition_granularity: Literal["day", "month"] = "day"
    parquet_compression: ParquetCompression = "snappy"
    engine: EngineConfig = Field(default_factory=EngineConfig)
    sources: tuple[str, ...] = ()

    @field_validator("namespace")
    @classmethod
    def _check_namespace(cls, value: str) -> str:
        for part in value.split("."):
            validate_identifier(part, what="namespace")
        return value

    @field_validator("catalog", mode="before")
    @classmethod
    def _stringify_catalog(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): str(v) for k, v in value.items() if v is not None}
        return value

    @property
    def is_embedded(self) -> bool:
        """Whether this is the zero-configuration embedded SQLite catalog."""
        return not self.catalog

    def catalog_properties(self) -> dict[str, str]:
        """The PyIceberg properties to load the catalog with (defaults filled in)."""
        if not self.is_embedded:
            return dict(self.catalog)
        home = self.home.expanduser().resolve()
        return {
            "type": "sql",
            "uri": f"sqlite:///{home / 'catalog.db'}",
            "warehouse": (home / "warehouse").as_uri(),
        }

    def masked(self) -> dict[str, Any]:
        """The configuration as plain data, with every secret replaced by ``********``."""
        data = self.model_dump(mode="json")
        data["catalog"] = mask_secrets(self.catalog_properties())
        return data

    def __repr_args__(self) -> Any:
        for key, value in super().__repr_args__():
            yield key, (mask_secrets(value) if key == "catalog" else value)


def mask_secrets(properties: Mapping[str, str]) -> dict[str, str]:
    """Return a copy of catalog properties with secret values masked.

    Values of secret-looking keys are replaced whole; passwords inside URIs are masked too.

    Example:
        >>> mask_secrets({"uri": "postgresql://fs:pw@db/cat", "token": "abc"})
        {'uri': 'postgresql://fs:********@db/cat', 'token': '********'}
    """
    return {k: (_MASK if _SECRET_KEY.search(k) else mask_uri(v)) for k, v in properties.items()}


def mask_uri(text: str) -> str:
    """Mask the password of every URI in ``text`` and secret-looking query parameters.

    Example:
        >>> mask_uri("http://alice:tok3n@host:8181/v1?token=abc&x=1")
        'http://alice:********@host:8181/v1?token=********&x=1'
    """
    text = _URI_PASSWORD.sub(lambda m: f"{m.group('head')}:{_MASK}@", text)
    return _URI_SECRET_PARAM.sub(lambda m: f"{m.group('head')}{_MASK}", text)


def load_config(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> StoreConfig:
    """Resolve the configuration from defaults, file, environment and ``overrides``.

    Args:
        overrides: Explicit settings (the keyword arguments of ``connect``); ``None``
            values are ignored.
        environ: The environment to read (default: ``os.environ``).
        cwd: The folder to look for ``featurestore.yaml`` in (default: the current one).

    Returns:
        The validated configuration.

    Raises:
        ConfigError: The file cannot be read or parsed, or a value is invalid.

    Example:
        >>> cfg = load_config({"namespace": "fs"}, environ={}, cwd=Path("/nonexistent"))
        >>> cfg.namespace, cfg.is_embedded
        ('fs', True)
    """
    env = os.environ if environ is None else environ
    layers: list[tuple[str, dict[str, Any]]] = [("defaults", {})]
    file_layer = _file_layer(env, cwd or Path.cwd())
    if file_layer is not None:
        layers.append(file_layer)
    env_values = _env_layer(env)
    if env_values:
        layers.append(("environment FEATURESTORE_*", env_values))
    explicit = {k: v for k, v in (overrides or {}).items() if v is not None}
    if explicit:
        layers.append(("connect() arguments", explicit))
    merged: dict[str, Any] = {}
    for _, values in layers:
        merged = _merge(merged, values)
    merged["sources"] = tuple(name for name, _ in layers)
    try:
        return StoreConfig.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}"
            for err in exc.errors()
        )
        origin = " < ".join(name for name, _ in layers)
        msg = f"Invalid featurestore configuration ({problems}). Sources read: {origin}."
        raise ConfigError(msg) from None


def _file_layer(env: Mapping[str, str], cwd: Path) -> tuple[str, dict[str, Any]] | None:
    named = env.get(f"{ENV_PREFIX}CONFIG")
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            msg = (
                f"FEATURESTORE_CONFIG names {str(path)!r}, which is not a file. "
                "Point it at a featurestore.yaml or unset it."
            )
            raise ConfigError(msg)
    else:
        path = cwd / CONFIG_FILE_NAME
        if not path.is_file():
            return None
    data = _read_yaml(path)
    if "home" in data and not Path(str(data["home"])).expanduser().is_absolute():
        data["home"] = str((path.parent / str(data["home"])).resolve())
    return str(path), data


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        msg = f"Cannot read configuration file {str(path)!r}: {exc}"
        raise ConfigError(msg) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        msg = f"Configuration file {str(path)!r} must hold a mapping, not {type(data).__name__}."
        raise ConfigError(msg)
    return data


def _env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key == f"{ENV_PREFIX}CONFIG":
            continue
        parts = key[len(ENV_PREFIX) :].split("__")
        section = parts[0].lower()
        if section == "catalog" and len(parts) > 1:
            prop = ".".join(p.lower().replace("_", "-") for p in parts[1:])
            values.setdefault("catalog", {})[prop] = value
        elif section == "engine" and len(parts) == 2:
            values.setdefault("engine", {})[parts[1].lower()] = value
        elif len(parts) == 1 and section in StoreConfig.model_fields and section != "sources":
            values[section] = value
    return values


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``top`` over ``base``; the ``catalog`` mapping is replaced when its type changes."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, BaseModel):
            value = value.model_dump()
        old = out.get(key)
        if key == "catalog" and isinstance(value, Mapping) and isinstance(old, Mapping):
            same_type = "type" not in value or value.get("type") == old.get("type")
            out[key] = {**old, **value} if same_type else dict(value)
        elif isinstance(value, Mapping) and isinstance(old, Mapping):
            out[key] = {**old, **value}
        else:
            out[key] = value
    return out
