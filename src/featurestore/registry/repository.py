"""The feature registry: definitions stored as versioned rows of an Iceberg table.

:class:`Registry` is what :class:`~featurestore.store.FeatureStore` delegates to. Every change
(``apply``, ``delete_feature_view``) is one append to ``<namespace>.registry``, so it is atomic
and every past state is a snapshot: :meth:`Registry.at` reads the registry as of a snapshot ID
or a time, and retrieval uses that to read a view exactly as a model saw it.

Reads scan the (small) registry table each time; parsed snapshots are cached by snapshot ID,
which never changes meaning, so nothing cached can go stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from featurestore._internal.timeutil import as_utc
from featurestore.catalog import load_table_or_none
from featurestore.errors import DefinitionError, NotFoundError, SnapshotNotFoundError
from featurestore.registry.models import Entity, FeatureView
from featurestore.registry.planner import (
    ApplyPlan,
    TableColumns,
    as_definitions,
    plan_apply,
)
from featurestore.registry.schema_check import table_dtypes
from featurestore.registry.snapshot import RegistrySnapshot
from featurestore.registry.storage import (
    DEFAULT_ATTEMPTS,
    RegistryRow,
    commit_rows,
    load_registry_table,
    read_rows,
)

if TYPE_CHECKING:
    from pyiceberg.table import Table

    from featurestore.store import FeatureStore

__all__ = ["ApplyResult", "Registry", "RegistrySnapshot"]

T = TypeVar("T")
_SNAPSHOT = "registry snapshot"
Planner = Callable[["Table", list[RegistryRow]], tuple[Sequence[RegistryRow], T]]


@dataclass(frozen=True)
class ApplyResult:
    """What an apply did.

    Attributes:
        created: Names registered for the first time (or again after a delete), input order.
        updated: Names whose definition changed and got a new version.
        unchanged: Names whose definition was already current; nothing was written for them.
        snapshot_id: The registry snapshot that holds the applied definitions: the new one,
            or the existing one when nothing changed (``None`` only for an empty registry).
    """

    created: list[str]
    updated: list[str]
    unchanged: list[str]
    snapshot_id: int | None


class Registry:
    """Entities and feature views of one store, versioned in ``<namespace>.registry``.

    Args:
        store: The store whose catalog and namespace hold the registry.
        max_attempts: How often a change is tried against fresh registry rows when
            concurrent writers commit first, before :class:`CommitConflictError`.

    Example:
        >>> import featurestore, tempfile
        >>> from featurestore import Entity
        >>> store = featurestore.connect(home=tempfile.mkdtemp())
        >>> registry = Registry(store)
        >>> registry.apply(Entity(name="user", join_keys=["user_id"])).created
        ['user']
        >>> registry.get_entity("user").join_keys
        ['user_id']
    """

    def __init__(self, store: FeatureStore, *, max_attempts: int = DEFAULT_ATTEMPTS) -> None:
        self._store = store
        self.table_name = store.system_table_name("registry")
        self.max_attempts = max_attempts
        self._snapshots: dict[tuple[str, int], RegistrySnapshot] = {}

    def __repr__(self) -> str:
        return f"Registry(table={self.table_name!r})"

    # -- writes ------------------------------------------------------------------------

    def apply(self, objects: Entity | FeatureView | Iterable[Entity | FeatureView]) -> ApplyResult:
        """Validate definitions and register them in one atomic commit.

        Everything is checked before anything is written: each definition, the whole set
        together with what is registered already (a view may use an entity registered
        earlier), and each view against its table where that exists (missing columns,
        incompatible types, changed join keys). Unchanged definitions write nothing; changed
        ones become version n+1. With nothing changed, no snapshot is created.

        Args:
            objects: An Entity, a FeatureView, or an iterable of them.

        Returns:
            Names created, updated and unchanged, and the registry snapshot ID.

        Raises:
            DefinitionError: Every problem found, listed at once; nothing was written.
            CommitConflictError: Concurrent writers won every attempt; nothing was written.

        Example:
            >>> import featurestore, tempfile
            >>> from featurestore import Entity
            >>> registry = Registry(featurestore.connect(home=tempfile.mkdtemp()))
            >>> first = registry.apply([Entity(name="user")])
            >>> again = registry.apply([Entity(name="user")])
            >>> again.unchanged, again.snapshot_id == first.snapshot_id
            (['user'], True)
        """
        items = as_definitions(objects)
        self._refuse_system_tables(items)

        def plan(table: Table, rows: list[RegistryRow]) -> tuple[list[RegistryRow], ApplyPlan]:
            result = plan_apply(items, self._snapshot_of(table, rows), self._table_columns)
            return result.rows, result

        result, snapshot_id = self._commit(plan, operation="applying definitions")
        self._evolve_tables(result.changed_views)
        if snapshot_id is None:
            snapshot_id = self.at(None).snapshot_id
        return ApplyResult(result.created, result.updated, result.unchanged, snapshot_id)

    def delete_feature_view(self, name: str) -> None:
        """Delete feature view ``name`` by writing a tombstone version.

        Its history (and its table) stay: ``at()`` an earlier snapshot still returns it, and
        applying it again registers it as the next version.

        Raises:
            NotFoundError: No such view.

        Example:
            >>> import featurestore, tempfile
            >>> from featurestore import Entity, Feature, FeatureView
            >>> registry = Registry(featurestore.connect(home=tempfile.mkdtemp()))
            >>> _ = registry.apply([Entity(name="user"), FeatureView(name="v", entities=["user"],
            ...     table="f.v", features=[Feature(name="x", dtype="int64")])])
            >>> registry.delete_feature_view("v")
            >>> registry.list_feature_views()
            []
        """

        def plan(table: Table, rows: list[RegistryRow]) -> tuple[list[RegistryRow], None]:
            snapshot = self._snapshot_of(table, rows)
            version = snapshot.version("feature_view", name)
            if version is None:
                snapshot.get_feature_view(name)  # raises NotFoundError, with suggestions
            assert version is not None
            row = snapshot.latest[("feature_view", name)]  # its definition need not parse
            tombstone = replace(
                row, version=version + 1, deleted=True, updated_at=datetime.now(UTC)
            )
            return [tombstone], None

        self._commit(plan, operation=f"deleting feature view {name!r}")

    # -- reads -------------------------------------------------------------------------

    def at(self, as_of: datetime | int | None) -> RegistrySnapshot:
        """The registry as of a snapshot ID, a time, or now (``None``).

        Args:
            as_of: A registry table snapshot ID (as recorded with a model run), a datetime
                (naive means UTC) to read the registry as it was then, or ``None``.

        Raises:
            SnapshotNotFoundError: No such snapshot, or a time before the registry existed
                (the message names the earliest time).

        Example:
            >>> import featurestore, tempfile
            >>> from featurestore import Entity
            >>> registry = Registry(featurestore.connect(home=tempfile.mkdtemp()))
            >>> old = registry.apply(Entity(name="user")).snapshot_id
            >>> _ = registry.apply(Entity(name="user", description="people"))
            >>> registry.at(old).get_entity("user").description is None
            True
        """
        if isinstance(as_of, bool) or not isinstance(as_of, int | datetime | None):
            msg = f"as_of must be a registry snapshot ID (int), a datetime or None, not {as_of!r}."
            raise DefinitionError(msg)
        table = load_registry_table(self._store.catalog, self.table_name, create=False)
        if as_of is None:
            current = table.current_snapshot() if table is not None else None
            return self._read(table, current.snapshot_id if current else None)
        if table is None or not table.snapshots():
            hint = "The registry is empty: nothing was applied yet."
            raise SnapshotNotFoundError(_SNAPSHOT, str(as_of), hint=hint)
        if isinstance(as_of, datetime):
            return self._read(table, _snapshot_at_time(table, as_of))
        if table.snapshot_by_id(as_of) is None:
            raise SnapshotNotFoundError(_SNAPSHOT, str(as_of), hint=_snapshot_range(table))
        return self._read(table, as_of)

    def get_entity(self, name: str) -> Entity:
        """Current definition of entity ``name`` (``NotFoundError`` with close names)."""
        return self.at(None).get_entity(name)

    def get_feature_view(self, name: str) -> FeatureView:
        """Current definition of feature view ``name`` (``NotFoundError``: did you mean)."""
        return self.at(None).get_feature_view(name)

    def list_entities(self) -> list[Entity]:
        """Every registered entity, sorted by name."""
        return self.at(None).list_entities()

    def list_feature_views(
        self, *, owner: str | None = None, tag: str | Mapping[str, str] | None = None
    ) -> list[FeatureView]:
        """Registered feature views sorted by name, optionally of ``owner`` / with ``tag``."""
        return self.at(None).list_feature_views(owner=owner, tag=tag)

    def search(self, text: str) -> list[Entity | FeatureView]:
        """Definitions whose name, description, owner, features or tags contain ``text``."""
        return self.at(None).search(text)

    def history(self, kind: str, name: str) -> list[RegistryRow]:
        """Every stored version of one object, oldest first (tombstones included).

        Raises:
            NotFoundError: The object was never registered.
        """
        table = load_registry_table(self._store.catalog, self.table_name, create=False)
        current = table.current_snapshot() if table is not None else None
        rows = read_rows(table, current.snapshot_id) if table and current else []
        found = sorted((r for r in rows if (r.kind, r.name) == (kind, name)), key=_version)
        if not found:
            raise NotFoundError(kind.replace("_", " "), name, candidates={r.name for r in rows})
        return found

    # -- internals ---------------------------------------------------------------------

    def _commit(self, plan: Planner[T], *, operation: str) -> tuple[T, int | None]:
        return commit_rows(
            self._store.catalog,
            self.table_name,
            plan,
            operation=operation,
            attempts=self.max_attempts,
        )

    def _read(self, table: Table | None, snapshot_id: int | None) -> RegistrySnapshot:
        if table is None or snapshot_id is None:
            return RegistrySnapshot(None, [])
        key = (str(table.metadata.table_uuid), snapshot_id)
        if key not in self._snapshots:
            self._snapshots[key] = RegistrySnapshot(snapshot_id, read_rows(table, snapshot_id))
        return self._snapshots[key]

    def _snapshot_of(self, table: Table, rows: list[RegistryRow]) -> RegistrySnapshot:
        current = table.current_snapshot()
        return RegistrySnapshot(current.snapshot_id if current else None, rows)

    def _table_columns(self, name: str) -> TableColumns | None:
        from featurestore.writes.tables import CREATED_BY, VIEW_PROPERTY

        action = f"loading table {name!r} to check its schema"
        table = load_table_or_none(self._store.catalog, name, action=action)
        if table is None:
            return None
        properties = table.properties
        return TableColumns(
            table_dtypes(table.schema()), CREATED_BY in properties, properties.get(VIEW_PROPERTY)
        )

    def _refuse_system_tables(self, items: list[Entity | FeatureView]) -> None:
        """Feature tables may not live in the store's system namespace (registry, model runs)."""
        namespace = self._store.namespace
        taken = [
            v
            for v in items
            if isinstance(v, FeatureView) and v.table.rpartition(".")[0] == namespace
        ]
        if taken:
            names = ", ".join(f"{v.name!r} (table {v.table!r})" for v in taken)
            msg = (
                f"Feature views {names} use the store's system namespace {namespace!r}, "
                "which holds the registry and model runs; put feature tables in another "
                "namespace, e.g. 'features.<table>'."
            )
            raise DefinitionError(msg)

    def _evolve_tables(self, views: list[FeatureView]) -> None:
        """Evolve the tables the store created to what applied views declare.

        Adds the new feature columns and widens narrower ones (``int32`` to ``int64``...,
        which the checks before the commit allowed). Runs after the registry commit: a new
        nullable column that no data fills yet reads as NULL, old snapshots keep their own
        schema, and a write evolves the table too if this step was cut short.
        """
        for view in views:
            columns = self._table_columns(view.table)
            if columns is None or not columns.managed:
                continue
            if any(columns.dtypes.get(f.name) != f.dtype for f in view.features):
                self._store._writer.ensure_table(view)


def _version(row: RegistryRow) -> int:
    return row.version


def _snapshot_at_time(table: Table, as_of: datetime) -> int:
    moment = as_utc(as_of)
    snapshot = table.snapshot_as_of_timestamp(int(moment.timestamp() * 1000))
    if snapshot is None:
        first = min(entry.timestamp_ms for entry in table.history())
        earliest = datetime.fromtimestamp(first / 1000, tz=UTC).isoformat()
        raise SnapshotNotFoundError(
            _SNAPSHOT,
            moment.isoformat(),
            hint=f"That is before the registry existed: its earliest snapshot is at {earliest}.",
        )
    return snapshot.snapshot_id


def _snapshot_range(table: Table) -> str:
    snapshots = sorted(table.snapshots(), key=lambda s: s.timestamp_ms)
    latest = ", ".join(str(s.snapshot_id) for s in snapshots[-5:])
    return (
        f"The registry has {len(snapshots)} snapshot(s); the latest are {latest}. "
        "Pass one of those, or a datetime."
    )
