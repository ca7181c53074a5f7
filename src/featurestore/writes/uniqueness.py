"""Whether the rows one write adds are unique on (join keys, event time), checked as they stream.

A write sorts each chunk on the join keys and the event time before writing it
(:mod:`featurestore.writes.commit`); :class:`Uniqueness` checks the chunks on the way, in
bounded memory: no two equal sorted neighbours and no NULL or NaN in a chunk, and chunks
whose value ranges are disjoint in some column, or meet at one instant without sharing keys
there. When every written row passes, the snapshot summary carries :data:`UNIQUE_ON` (the
columns' field IDs), and a point-in-time read of files that only such snapshots added, whose
ranges do not overlap across snapshots, needs no tie-break
(:mod:`featurestore.retrieval.bounds`). A write that also rewrites the survivors of partly
replaced files claims nothing (their rows were not checked).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["UNIQUE_ON", "Uniqueness"]

UNIQUE_ON = "featurestore.unique-on"
"""Snapshot summary property: comma-separated field IDs its added rows are unique on."""


class Uniqueness:
    """Whether every row written so far is unique on ``columns`` (keys, then the event time).

    Chunks arrive sorted on the columns, so equal rows in a chunk are neighbours. Rows of two
    chunks can only be equal if the chunks' ``[min, max]`` ranges overlap in every column;
    when they do, the one case checked exactly is two chunks that meet at one instant (the
    next chunk of a time-ordered input starts at the time the previous one ends): their rows
    at that instant must not share keys. Any other overlap, a NULL, or unchecked rows make the
    claim false rather than costing a check over every row.

    Example:
        >>> import pyarrow as pa
        >>> check = Uniqueness(["k", "t"])
        >>> check.add(pa.table({"k": [1, 1, 2], "t": [1, 2, 1]}))
        >>> check.holds()
        True
        >>> check.add(pa.table({"k": [2], "t": [1]}))  # (2, 1) again, in another chunk
        >>> check.holds()
        False
    """

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns
        self.chunks: list[_Chunk] = []
        self.retained = 0
        self.spoiled = not columns

    def spoil(self) -> None:
        """Rows were written that were not checked: no claim."""
        self.spoiled = True
        self.chunks.clear()

    def add(self, ordered: pa.Table) -> None:
        """Check one chunk, sorted on :attr:`columns`."""
        if self.spoiled or ordered.num_rows == 0:
            return
        if _has_null_or_nan(ordered, self.columns) or _has_equal_neighbours(ordered, self.columns):
            self.spoil()
            return
        chunk = self._chunk(ordered)
        if any(not _apart(chunk, other, self.columns[:-1]) for other in self.chunks):
            self.spoil()
            return
        self.chunks.append(chunk)

    def holds(self) -> bool:
        """True when at least one row was checked and every written row is unique."""
        return not self.spoiled and bool(self.chunks)

    def _chunk(self, ordered: pa.Table) -> _Chunk:
        import pyarrow.compute as pc

        keys, ts = self.columns[:-1], ordered.column(self.columns[-1])
        ranges = []
        for name in keys:
            key = pc.min_max(ordered.column(name))
            ranges.append((key["min"].as_py(), key["max"].as_py()))
        bounds = pc.min_max(ts)
        ranges.append((bounds["min"].as_py(), bounds["max"].as_py()))
        first = ordered.filter(pc.equal(ts, bounds["min"])).select(keys)
        same = ranges[-1][0] == ranges[-1][1]
        last = first if same else ordered.filter(pc.equal(ts, bounds["max"])).select(keys)
        self.retained += first.num_rows + (last.num_rows if last is not first else 0)
        if self.retained > _RETAINED_ROWS:  # bounded memory: such overlaps are not checked
            return _Chunk(ranges, None, None)
        return _Chunk(ranges, first, last)


_RETAINED_ROWS = 2_000_000
"""Key rows kept, over a whole write, to check chunks that meet at one instant."""


@dataclass(frozen=True)
class _Chunk:
    """A checked chunk: its ``[min, max]`` per column, and its keys at the first/last time."""

    ranges: list[tuple[Any, Any]]
    first: pa.Table | None
    last: pa.Table | None


def _has_null_or_nan(ordered: pa.Table, columns: list[str]) -> bool:
    """NULL and NaN: a NULL never joins, but NaN joins NaN and escapes min/max and ``==``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for name in columns:
        column = ordered.column(name)
        if column.null_count:
            return True
        if pa.types.is_floating(column.type) and pc.any(pc.is_nan(column)).as_py():
            return True
    return False


def _has_equal_neighbours(ordered: pa.Table, columns: list[str]) -> bool:
    import pyarrow.compute as pc

    n = ordered.num_rows
    same: Any = None
    for name in columns:
        column = ordered.column(name)
        equal = pc.equal(column.slice(1), column.slice(0, n - 1))
        same = equal if same is None else pc.and_(same, equal)
    return bool(pc.any(same).as_py())


def _apart(a: _Chunk, b: _Chunk, keys: list[str]) -> bool:
    """Whether chunks ``a`` and ``b`` can share no row (by their ranges and boundary keys)."""
    if not all(
        lo_a <= hi_b and lo_b <= hi_a
        for (lo_a, hi_a), (lo_b, hi_b) in zip(a.ranges, b.ranges, strict=True)
    ):
        return True  # disjoint in some column
    (low_a, high_a), (low_b, high_b) = a.ranges[-1], b.ranges[-1]
    if high_a == low_b:  # they meet at one instant: a's last rows, b's first
        return _no_common_keys(a.last, b.first, keys)
    if high_b == low_a:
        return _no_common_keys(b.last, a.first, keys)
    return False


def _no_common_keys(a: pa.Table | None, b: pa.Table | None, keys: list[str]) -> bool:
    if a is None or b is None:
        return False  # not kept: unknown
    if not keys:
        return bool(a.num_rows == 0 or b.num_rows == 0)
    common: int = a.join(b, keys=keys, join_type="inner").num_rows
    return common == 0
