"""Definition files: Python modules and YAML files that declare entities and feature views.

A Python file is run as a module; every module-level Entity or FeatureView (or list / tuple
of them) is collected, in definition order. A YAML file holds::

    entities:
      - {name: user, join_keys: [user_id]}
    feature_views:
      - name: user_spend
        entities: [user]
        table: features.user_spend
        ttl: 7d                       # or 12h, 30m, 45s, 2w, P7D (ISO-8601), 3600 (seconds)
        features:
          - {name: spend_7d, dtype: float64}

A folder loads every ``*.py``, ``*.yaml`` and ``*.yml`` file in it, sorted by name.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from featurestore.errors import DefinitionError
from featurestore.registry.models import Entity, FeatureView

__all__ = ["load_definitions", "parse_ttl"]

_SUFFIXES = (".py", ".yaml", ".yml")
_TTL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_YAML_KEYS: dict[str, type[Entity] | type[FeatureView]] = {
    "entities": Entity,
    "feature_views": FeatureView,
}


def load_definitions(path: str | Path) -> list[Entity | FeatureView]:
    r"""Load the definitions of a Python file, a YAML file, or a folder of them.

    Raises:
        DefinitionError: The path is missing or of another type, the file fails to run or
            parse, or a definition in it is invalid (every invalid field is listed).

    Example:
        >>> import pathlib, tempfile
        >>> file = pathlib.Path(tempfile.mkdtemp()) / "defs.yaml"
        >>> _ = file.write_text("entities:\n  - {name: user, join_keys: [user_id]}\n")
        >>> [e.name for e in load_definitions(file)]
        ['user']
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in _SUFFIXES and p.is_file())
        return [obj for file in files for obj in load_definitions(file)]
    if not path.is_file():
        msg = f"Definition file {str(path)!r} does not exist. Give a .py or .yaml file or a folder."
        raise DefinitionError(msg)
    if path.suffix == ".py":
        return _load_python(path)
    if path.suffix in (".yaml", ".yml"):
        return _load_yaml(path)
    msg = f"Cannot load definitions from {str(path)!r}: use a .py, .yaml or .yml file."
    raise DefinitionError(msg)


def parse_ttl(value: Any) -> Any:
    """Turn ``"7d"``, ``"12h"``, ``"30m"``, ``"45s"`` or ``"2w"`` into a timedelta.

    Other values (ISO-8601 strings such as ``"P7D"``, seconds as numbers, ``None``) are left
    for pydantic to parse.

    Example:
        >>> parse_ttl("7d"), parse_ttl("1.5h"), parse_ttl("P7D")
        (datetime.timedelta(days=7), datetime.timedelta(seconds=5400), 'P7D')
    """
    if isinstance(value, str) and (match := _TTL.match(value.lower())):
        try:
            return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
        except OverflowError:
            msg = f"Invalid ttl {value!r}: at most {timedelta.max.days} days"
            raise DefinitionError(msg) from None
    return value


def _load_python(path: Path) -> list[Entity | FeatureView]:
    name = f"_featurestore_definitions_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - .py files always have one
        msg = f"Cannot import {str(path)!r} as a Python module."
        raise DefinitionError(msg)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pydantic look their module up
    try:
        spec.loader.exec_module(module)
    except DefinitionError as exc:
        msg = f"{path}: {exc}"
        raise DefinitionError(msg) from exc
    except Exception as exc:
        msg = f"Running definition file {str(path)!r} failed: {type(exc).__name__}: {exc}"
        raise DefinitionError(msg) from exc
    finally:
        sys.modules.pop(name, None)
    found: list[Entity | FeatureView] = []
    for attribute, value in vars(module).items():
        if attribute.startswith("_"):
            continue
        values = value if isinstance(value, list | tuple) else [value]
        found.extend(v for v in values if isinstance(v, Entity | FeatureView))
    if not found:
        msg = f"Definition file {str(path)!r} defines no Entity or FeatureView at module level."
        raise DefinitionError(msg)
    return found


def _load_yaml(path: Path) -> list[Entity | FeatureView]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        msg = f"Cannot read definition file {str(path)!r}: {exc}"
        raise DefinitionError(msg) from exc
    if not isinstance(data, dict) or not data or set(data) - set(_YAML_KEYS):
        keys = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        msg = (
            f"Definition file {str(path)!r} must be a mapping with the keys 'entities' and/or "
            f"'feature_views' (got {keys})."
        )
        raise DefinitionError(msg)
    found: list[Entity | FeatureView] = []
    problems: list[str] = []
    for key, model in _YAML_KEYS.items():
        items = data.get(key) or []
        if not isinstance(items, list):
            problems.append(f"{key}: expected a list, got {type(items).__name__}")
            continue
        for index, item in enumerate(items):
            where = f"{key}[{index}]"
            try:
                found.append(model.model_validate(_prepare(item)))
            except DefinitionError as exc:
                problems.append(f"{where}: {exc}")
    if problems:
        msg = f"Invalid definitions in {str(path)!r}: " + "; ".join(problems) + "."
        raise DefinitionError(msg)
    return found


def _prepare(item: Any) -> Any:
    if isinstance(item, dict) and "ttl" in item:
        return {**item, "ttl": parse_ttl(item["ttl"])}
    return item
