"""Source snapshots of computed features, read from Iceberg snapshot summaries.

Every commit the store makes to a feature table records ``featurestore.writer``,
``featurestore.view`` and ``featurestore.mode`` in its snapshot summary; a materialisation
(computed features) also records ``featurestore.source-snapshots``: JSON ``{table: snapshot_id}``
of the tables its SQL read.

The rule (decided here, recorded with every model run): the source snapshots of a feature
table read at snapshot ``S`` are those recorded by the *nearest* snapshot in ``S``'s ancestry
(``S`` itself, then its parent, and so on) whose summary carries
``featurestore.source-snapshots``; that is the latest materialisation whose output is part of
what was read. Plain writes in between do not reset it. When no ancestor carries the key
(features written directly, or an external table), or the ancestry was expired before one is
found, the result is empty.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyiceberg.table import Table

__all__ = ["SOURCE_SNAPSHOTS_KEY", "source_snapshots"]

SOURCE_SNAPSHOTS_KEY = "featurestore.source-snapshots"


def source_snapshots(table: Table, snapshot_id: int | None) -> tuple[dict[str, int], int | None]:
    """Return ``({source table: snapshot_id}, the snapshot that recorded it)`` for ``snapshot_id``.

    Args:
        table: The feature table (metadata is enough; no data is read).
        snapshot_id: The snapshot a training set read; ``None`` (empty table) gives nothing.

    Raises:
        CatalogError: The recorded value is not a JSON object of table -> snapshot ID.

    Example:
        >>> source_snapshots(None, None)  # no snapshot read: nothing to trace
        ({}, None)
    """
    seen: set[int] = set()
    current = snapshot_id
    while current is not None and current not in seen:
        seen.add(current)
        snapshot = table.snapshot_by_id(current)
        if snapshot is None:
            break
        summary = snapshot.summary
        raw = summary.additional_properties.get(SOURCE_SNAPSHOTS_KEY) if summary else None
        if raw:
            return _parse(raw, table.name(), current), current
        current = snapshot.parent_snapshot_id
    return {}, None


def _parse(raw: str, table: tuple[str, ...], snapshot_id: int) -> dict[str, int]:
    from featurestore.errors import CatalogError

    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value.values()
    ):
        msg = (
            f"Snapshot {snapshot_id} of table {'.'.join(table)!r} has a malformed "
            f"{SOURCE_SNAPSHOTS_KEY!r} summary value {raw!r}: expected a JSON object of "
            "table name -> snapshot id. Fix the writer that produced it."
        )
        raise CatalogError(msg)
    return {str(k): int(v) for k, v in value.items()}
