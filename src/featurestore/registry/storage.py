"""The registry table: its schema, race-safe creation, reads at a snapshot, atomic appends.

One row per object version::

    kind          string     "entity" | "feature_view"
    name          string
    version       long       1..n per (kind, name)
    definition    string     the pydantic model as JSON (``model_dump_json``)
    owner         string     (views only)
    description   string
    tags          string     JSON object
    deleted       boolean    a tombstone: the object was deleted at this version
    updated_at    timestamptz

Every change is one append, so every change is one snapshot you can time-travel to. Writes
run an optimistic loop (:func:`commit_rows`): read the current rows, compute the new versions,
commit against exactly that snapshot; when another writer got there first, start again from
fresh rows. PyIceberg's own retry (which would re-apply rows computed before the conflict, and
so could duplicate a version number) is switched off on this table.
"""

from __future__ import annotations

import contextlib
import getpass
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from featurestore._internal.retry import NO_PYICEBERG_RETRIES, retry_lost_races
from featurestore.catalog import ensure_namespace, load_table_or_none, translate_errors
from featurestore.errors import CommitConflictError

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table

__all__ = ["RegistryRow", "commit_rows", "load_registry_table", "read_rows", "registry_schema"]

Kind = Literal["entity", "feature_view"]
T = TypeVar("T")

TABLE_PROPERTIES = {
    # Our own loop retries with fresh versions; PyIceberg's retry would re-apply stale rows.
    **NO_PYICEBERG_RETRIES,
    "featurestore.system-table": "registry",
}
DEFAULT_ATTEMPTS = 8


@dataclass(frozen=True)
class RegistryRow:
    """One stored version of one definition (a tombstone when ``deleted``)."""

    kind: Kind
    name: str
    version: int
    definition: str
    owner: str | None = None
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    deleted: bool = False
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def key(self) -> tuple[Kind, str]:
        """``(kind, name)``: the identity of the object across versions."""
        return (self.kind, self.name)


def registry_schema() -> Schema:
    """The Iceberg schema of the registry table."""
    from pyiceberg.schema import Schema
    from pyiceberg.types import (
        BooleanType,
        LongType,
        NestedField,
        StringType,
        TimestamptzType,
    )

    return Schema(
        NestedField(1, "kind", StringType(), required=True),
        NestedField(2, "name", StringType(), required=True),
        NestedField(3, "version", LongType(), required=True),
        NestedField(4, "definition", StringType(), required=True),
        NestedField(5, "owner", StringType(), required=False),
        NestedField(6, "description", StringType(), required=False),
        NestedField(7, "tags", StringType(), required=True),
        NestedField(8, "deleted", BooleanType(), required=True),
        NestedField(9, "updated_at", TimestamptzType(), required=True),
    )


def load_registry_table(catalog: Catalog, name: str, *, create: bool) -> Table | None:
    """Load the registry table; create it first when ``create`` (safe under races).

    Returns:
        The table, or ``None`` when it does not exist and ``create`` is false.
    """
    table = load_table_or_none(catalog, name, action=f"loading the registry table {name!r}")
    if table is None:
        if not create:
            return None
        ensure_namespace(catalog, name.rpartition(".")[0])
        with translate_errors(f"creating the registry table {name!r}"):
            table = catalog.create_table_if_not_exists(
                name, schema=registry_schema(), properties=TABLE_PROPERTIES
            )
    if create and table.properties.get("commit.retry.num-retries") != "0":
        with translate_errors(f"setting the properties of {name!r}"):
            table = table.transaction().set_properties(TABLE_PROPERTIES).commit_transaction()
    return table


def read_rows(table: Table, snapshot_id: int | None) -> list[RegistryRow]:
    """Every row of the registry table at ``snapshot_id`` (``None``: no snapshot, no rows)."""
    if snapshot_id is None:
        return []
    with translate_errors(f"reading registry snapshot {snapshot_id}"):
        records = table.scan(snapshot_id=snapshot_id).to_arrow().to_pylist()
    return [
        RegistryRow(
            kind=r["kind"],
            name=r["name"],
            version=int(r["version"]),
            definition=r["definition"],
            owner=r["owner"],
            description=r["description"],
            tags=json.loads(r["tags"]),
            deleted=bool(r["deleted"]),
            updated_at=r["updated_at"],
        )
        for r in records
    ]


def commit_rows(
    catalog: Catalog,
    name: str,
    plan: Callable[[Table, list[RegistryRow]], tuple[Sequence[RegistryRow], T]],
    *,
    operation: str,
    attempts: int = DEFAULT_ATTEMPTS,
) -> tuple[T, int | None]:
    """Append the rows ``plan`` computes from the current rows, in one snapshot.

    ``plan(table, current_rows)`` validates and returns ``(new_rows, result)``; it runs again
    on fresh rows after each lost race, so it must not have side effects.

    Returns:
        ``result`` of the last plan, and the new snapshot ID (``None`` when there were no rows
        to write: nothing was committed).

    Raises:
        CommitConflictError: Other writers won ``attempts`` times in a row.
    """

    def step() -> tuple[T, int | None]:
        table = load_registry_table(catalog, name, create=True)
        assert table is not None
        current = table.current_snapshot()
        rows, result = plan(table, read_rows(table, current.snapshot_id if current else None))
        if not rows:
            return result, None
        return result, _append(table, rows, operation=operation)

    def exhausted() -> CommitConflictError:
        return CommitConflictError(
            f"Commit conflict while {operation} in {name!r}: other writers committed first "
            f"{attempts} times in a row. Nothing of this change was written; run it again."
        )

    return retry_lost_races(step, attempts=attempts, exhausted=exhausted)


def _append(table: Table, rows: Sequence[RegistryRow], *, operation: str) -> int:
    data = _to_arrow(table, rows)
    summary = {"featurestore.operation": operation, "featurestore.user": _user()}
    txn = table.transaction()
    with translate_errors(f"{operation} in {'.'.join(table.name())!r}"):
        txn.append(data, snapshot_properties=summary)
        committed = txn.commit_transaction()
    snapshot = committed.current_snapshot()
    assert snapshot is not None
    return snapshot.snapshot_id


def _to_arrow(table: Table, rows: Sequence[RegistryRow]) -> Any:
    import pyarrow as pa
    from pyiceberg.io.pyarrow import schema_to_pyarrow

    schema = schema_to_pyarrow(table.schema(), include_field_ids=False)
    columns: dict[str, list[Any]] = {f.name: [] for f in schema}
    for row in rows:
        columns["kind"].append(row.kind)
        columns["name"].append(row.name)
        columns["version"].append(row.version)
        columns["definition"].append(row.definition)
        columns["owner"].append(row.owner)
        columns["description"].append(row.description)
        columns["tags"].append(json.dumps(dict(row.tags), sort_keys=True))
        columns["deleted"].append(row.deleted)
        columns["updated_at"].append(row.updated_at)
    return pa.table(columns, schema=schema)


def _user() -> str:
    with contextlib.suppress(Exception):
        return getpass.getuser()
    return "unknown"
