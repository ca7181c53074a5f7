"""Which snapshot a retrieval reads of each table: current, or chosen by ``as_of``.

``as_of`` may be ``None`` (the current snapshot), a snapshot ID, a tag or branch name, a
datetime (the snapshot current at that time; naive means UTC) or
:data:`~featurestore.retrieval.request.EMPTY_SNAPSHOT` (the table as it was before any data).
A choice that names no snapshot is a :class:`~featurestore.errors.SnapshotNotFoundError` that
says which times and IDs are valid.

Column names resolve in one schema per read (:func:`read_schema`), as Iceberg reads do: the
table's current schema for a read of the current state, the schema a snapshot was written with
for a read of that snapshot, and the recorded one when a model run's training set is rebuilt.
A name that schema lacks resolves in the current schema (:func:`resolve_field`): a column
added or renamed since is read by its field ID, NULL in files written before it existed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from featurestore._internal.timeutil import as_utc
from featurestore.errors import SnapshotNotFoundError
from featurestore.retrieval.request import EMPTY_SNAPSHOT, AsOfValue

if TYPE_CHECKING:
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table
    from pyiceberg.types import NestedField

__all__ = ["read_schema", "resolve_field", "resolve_snapshot", "snapshot_not_found"]


def read_schema(
    table: Table, snapshot_id: int | None, *, as_of: AsOfValue, schema_id: int | None = None
) -> Schema:
    """The schema a read of ``table`` at ``snapshot_id`` resolves column names in.

    Args:
        table: The loaded table.
        snapshot_id: The snapshot read (None: the table read as empty).
        as_of: What the caller asked for: ``None`` reads the current state (current schema),
            anything else the snapshot's state (the schema it was written with).
        schema_id: A schema to use instead (a recorded read, rebuilt), when the table has it.

    Example:
        >>> import featurestore, tempfile, pyarrow as pa
        >>> store = featurestore.connect(home=tempfile.mkdtemp())
        >>> store.catalog.create_namespace("f")
        >>> table = store.catalog.create_table("f.t", schema=pa.schema([("x", pa.int64())]))
        >>> table.append(pa.table({"x": [1]}))
        >>> first = table.current_snapshot().snapshot_id
        >>> with table.update_schema() as update:
        ...     _ = update.rename_column("x", "y")
        >>> read_schema(table, first, as_of=None).column_names  # the current state
        ['y']
        >>> read_schema(table, first, as_of=first).column_names  # that snapshot's state
        ['x']
    """
    schemas = table.schemas()
    if schema_id is not None and schema_id in schemas:
        return schemas[schema_id]
    snapshot = None if snapshot_id is None else table.snapshot_by_id(snapshot_id)
    if as_of is None or snapshot is None or snapshot.schema_id not in schemas:
        return table.schema()
    return schemas[snapshot.schema_id]


def resolve_field(table: Table, schema: Schema, name: str) -> NestedField | None:
    """The field ``name`` reads: from ``schema``, else from the table's current schema.

    Example:
        >>> import featurestore, tempfile, pyarrow as pa
        >>> store = featurestore.connect(home=tempfile.mkdtemp())
        >>> store.catalog.create_namespace("f")
        >>> table = store.catalog.create_table("f.t", schema=pa.schema([("x", pa.int64())]))
        >>> with table.update_schema() as update:
        ...     _ = update.rename_column("x", "y")
        >>> old = table.schemas()[0]
        >>> [resolve_field(table, old, name).field_id for name in ("x", "y")]  # one column
        [1, 1]
        >>> resolve_field(table, old, "z") is None
        True
    """
    for candidate in (schema, table.schema()):
        if name in candidate.column_names:
            return candidate.find_field(name)
    return None


def resolve_snapshot(table: Table, name: str, as_of: AsOfValue) -> int | None:
    """Return the snapshot ID to read ``table`` at, or ``None`` for "empty".

    Args:
        table: The loaded table.
        name: Its name, for messages.
        as_of: ``None`` (current), a datetime (current at that time; naive is UTC),
            a snapshot ID, :data:`EMPTY_SNAPSHOT`, or a tag/branch name.

    Raises:
        SnapshotNotFoundError: Unknown ID/ref, a time before the table existed, or a time
            whose snapshot was expired; the message gives the valid range.

    Example:
        >>> resolve_snapshot.__name__
        'resolve_snapshot'
    """
    if as_of is None:
        current = table.current_snapshot()
        return None if current is None else int(current.snapshot_id)
    if isinstance(as_of, datetime):
        return _snapshot_at(table, name, as_of)
    if isinstance(as_of, int):
        if as_of == EMPTY_SNAPSHOT:
            return None
        if table.snapshot_by_id(as_of) is None:
            raise snapshot_not_found(table, name, f"snapshot {as_of}", "expired or never existed")
        return as_of
    snapshot = table.snapshot_by_name(as_of)
    if snapshot is None:
        refs = sorted(table.metadata.refs)
        kind = "tag or branch"
        raise SnapshotNotFoundError(
            kind,
            as_of,
            scope=f"table {name!r}",
            candidates=refs,
            hint=f"Refs of {name!r}: {refs}." if refs else f"{name!r} has no tags or branches.",
        )
    return int(snapshot.snapshot_id)


def _snapshot_at(table: Table, name: str, when: datetime) -> int | None:
    when = as_utc(when)
    millis = int(when.timestamp() * 1000)
    if millis < _created_ms(table):
        raise snapshot_not_found(
            table, name, f"time {when.isoformat()}", "before the table existed"
        )
    if _expired_at(table, millis):
        raise snapshot_not_found(
            table, name, f"time {when.isoformat()}", "its snapshot was expired"
        )
    snapshot = table.snapshot_as_of_timestamp(millis)
    return None if snapshot is None else int(snapshot.snapshot_id)  # None: no data yet


def _expired_at(table: Table, millis: int) -> bool:
    """Whether the snapshot current at ``millis`` may have been expired.

    Expiry drops snapshots and their snapshot-log entries, so the log alone would answer with
    an older snapshot (or "no data yet"). The first commit after ``millis`` tells: its parent
    must still exist. PyIceberg's expiry clears a dangling parent, Java's keeps it; a first
    remaining commit without a parent is the table's first one only if its sequence number
    is 1 (format v1 tables have none: taken as first).
    """
    log = table.metadata.snapshot_log
    before = [e for e in log if e.timestamp_ms <= millis]
    after = [e for e in log if e.timestamp_ms > millis]
    if not after:
        return False  # the current snapshot was current then
    following = table.snapshot_by_id(after[0].snapshot_id)
    if following is None:
        return True
    if following.timestamp_ms <= millis:
        return False  # a rollback to an older snapshot, not a new commit
    parent = following.parent_snapshot_id
    if parent is not None and table.snapshot_by_id(parent) is not None:
        return False
    if before or parent is not None:
        return True
    sequence = following.sequence_number
    return sequence is not None and sequence > 1


def _created_ms(table: Table) -> int:
    times = [entry.timestamp_ms for entry in table.metadata.metadata_log]
    times += [entry.timestamp_ms for entry in table.history()]
    return min([*times, table.metadata.last_updated_ms])


def snapshot_not_found(table: Table, name: str, what: str, why: str) -> SnapshotNotFoundError:
    """The error for ``what`` (e.g. ``"snapshot 12"``) missing from ``table``: valid range."""
    history = table.history()
    if history:
        first = datetime.fromtimestamp(history[0].timestamp_ms / 1000, UTC).isoformat()
        last = datetime.fromtimestamp(history[-1].timestamp_ms / 1000, UTC).isoformat()
        ids = [e.snapshot_id for e in history[-5:]]
        valid = f"valid times {first} .. {last}; latest snapshot IDs {ids}"
    else:
        valid = "the table has no snapshots"
    return SnapshotNotFoundError(
        "snapshot",
        what,
        scope=f"table {name!r}",
        hint=f"({why}; {valid}). Pick a snapshot in that range, or None for the current one.",
    )
