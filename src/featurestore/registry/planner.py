"""Planning an apply: validate a batch against the registry and tables, compute new versions.

Pure apart from reading table schemas through ``load_columns``: the optimistic commit loop in
:mod:`featurestore.registry.storage` may run a plan several times on fresh registry rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from featurestore.errors import DefinitionError
from featurestore.registry.models import Entity, FeatureView, validate_definitions, view_join_keys
from featurestore.registry.schema_check import check_against_table, check_change
from featurestore.registry.storage import Kind, RegistryRow

if TYPE_CHECKING:
    from featurestore.registry.snapshot import RegistrySnapshot

__all__ = ["ApplyPlan", "TableColumns", "as_definitions", "kind_of", "plan_apply", "row_for"]

ColumnLoader = Callable[[str], "TableColumns | None"]


@dataclass(frozen=True)
class TableColumns:
    """The columns (name -> dtype) of an existing table, and whether the store created it.

    ``owner`` is the feature view the store created it for (None: unknown or external).
    """

    dtypes: dict[str, str]
    managed: bool
    owner: str | None = None


@dataclass
class ApplyPlan:
    """What an apply will write and what it reports."""

    rows: list[RegistryRow] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    changed_views: list[FeatureView] = field(default_factory=list)


def as_definitions(objects: Any) -> list[Entity | FeatureView]:
    """Flatten ``objects`` (one definition or an iterable of them) into a list.

    Raises:
        DefinitionError: Something else was given; the message names its type.

    Example:
        >>> [o.name for o in as_definitions(Entity(name="user"))]
        ['user']
    """
    if isinstance(objects, Entity | FeatureView):
        return [objects]
    if isinstance(objects, str | bytes | Mapping) or not isinstance(objects, Iterable):
        msg = (
            f"Cannot apply {type(objects).__name__} {objects!r}: give an Entity, a FeatureView "
            "or a list of them."
        )
        raise DefinitionError(msg)
    items: list[Entity | FeatureView] = []
    for obj in objects:
        items.extend(as_definitions(obj))
    return items


def kind_of(obj: Entity | FeatureView) -> Kind:
    """The registry ``kind`` of a definition (``"entity"`` or ``"feature_view"``)."""
    return "entity" if isinstance(obj, Entity) else "feature_view"


def row_for(obj: Entity | FeatureView, version: int, *, deleted: bool = False) -> RegistryRow:
    """The registry row that stores ``obj`` as ``version``."""
    return RegistryRow(
        kind=kind_of(obj),
        name=obj.name,
        version=version,
        definition=obj.model_dump_json(),
        owner=obj.owner if isinstance(obj, FeatureView) else None,
        description=obj.description,
        tags=dict(obj.tags),
        deleted=deleted,
        updated_at=datetime.now(UTC),
    )


def plan_apply(
    items: list[Entity | FeatureView], current: RegistrySnapshot, load_columns: ColumnLoader
) -> ApplyPlan:
    """Validate ``items`` against ``current`` and the existing tables; plan the new rows.

    Raises:
        DefinitionError: Every problem found, listed at once; nothing is planned.
    """
    batch = _dedupe(items)
    overridden = {(kind_of(o), o.name) for o in batch}
    union = [
        *(e for e in current.list_entities() if ("entity", e.name) not in overridden),
        *(v for v in current.list_feature_views() if ("feature_view", v.name) not in overridden),
        *batch,
    ]
    validate_definitions(union)
    plan = ApplyPlan()
    changed: set[str] = set()
    changed_entities: set[str] = set()
    for obj in batch:
        row = current.latest.get((kind_of(obj), obj.name))
        if row is not None and not row.deleted and json.loads(row.definition) == _dumped(obj):
            plan.unchanged.append(obj.name)
            continue
        (plan.created if row is None or row.deleted else plan.updated).append(obj.name)
        plan.rows.append(row_for(obj, 1 if row is None else row.version + 1))
        if isinstance(obj, FeatureView):
            changed.add(obj.name)
            plan.changed_views.append(obj)
        else:
            changed_entities.add(obj.name)
    problems = _table_problems(union, current, changed, changed_entities, load_columns)
    if problems:
        msg = (
            "Cannot apply: " + "; ".join(problems) + ". Nothing was written; fix the "
            "definitions (or the tables) and apply again."
        )
        raise DefinitionError(msg)
    return plan


def _dedupe(items: list[Entity | FeatureView]) -> list[Entity | FeatureView]:
    seen: list[Entity | FeatureView] = []
    for obj in items:
        if not any(kind_of(o) == kind_of(obj) and o == obj for o in seen):
            seen.append(obj)
    return seen


def _dumped(obj: Entity | FeatureView) -> Any:
    return json.loads(obj.model_dump_json())


def _table_problems(
    union: list[Entity | FeatureView],
    current: RegistrySnapshot,
    changed: set[str],
    changed_entities: set[str],
    load_columns: ColumnLoader,
) -> list[str]:
    entities = {o.name: o for o in union if isinstance(o, Entity)}
    problems: list[str] = []
    columns_by_table: dict[str, TableColumns | None] = {}
    for view in (o for o in union if isinstance(o, FeatureView)):
        keys = view_join_keys(view, entities)
        old = _old_view(current, view.name)
        old_keys = current.join_keys(view.name) if old is not None else None
        untouched = view.name not in changed and not changed_entities & set(view.entities)
        if untouched and keys == old_keys:
            continue  # neither the view nor its entities changed
        if view.table not in columns_by_table:
            columns_by_table[view.table] = load_columns(view.table)
        columns = columns_by_table[view.table]
        if columns is None:
            continue  # the table does not exist yet: the writer will create it
        found = check_against_table(view, entities, columns.dtypes, evolvable=columns.managed)
        if columns.managed and columns.owner not in (None, view.name):
            found.append(
                f"the store created the table for feature view {columns.owner!r}; give each "
                "feature view its own table"
            )
        if old is not None and old_keys is not None:
            found += check_change(old, view, old_keys, keys)
        problems += [f"feature view {view.name!r} (table {view.table!r}): {p}" for p in found]
    return problems


def _old_view(current: RegistrySnapshot, name: str) -> FeatureView | None:
    if current.version("feature_view", name) is None:
        return None
    try:
        return current.get_feature_view(name)
    except DefinitionError:  # stored by another version, no longer valid: nothing to compare
        return None
