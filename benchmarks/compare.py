"""Check that two engines returned the same rows and values.

Rows are lined up by ``entity_row`` (the entity ordinal every engine passes through), so an
engine that reorders rows can still be compared; whether it kept the input order is reported
separately. Rows an engine dropped or duplicated are counted, never hidden. Feature values are
compared exactly on the first returned row of each entity row, with NULL equal to NULL (and NaN
to NaN: some engines turn one into the other on the way through pandas).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

__all__ = ["Agreement", "compare"]


@dataclass
class Agreement:
    """How one engine's result compares with the reference.

    Attributes:
        rows_expected: Entity rows (the reference's row count).
        rows_returned: Rows the engine returned.
        missing_rows: Entity rows absent from the result (dropped).
        extra_rows: Rows beyond one per entity row (duplicated).
        order_kept: The result is in entity order, one row each.
        mismatches: Feature (or key) -> number of entity rows whose value differs.
    """

    rows_expected: int
    rows_returned: int
    missing_rows: int
    extra_rows: int
    order_kept: bool
    mismatches: dict[str, int] = field(default_factory=dict)

    @property
    def agrees(self) -> bool:
        return self.missing_rows == 0 and self.extra_rows == 0 and not any(self.mismatches.values())

    def summary(self) -> str:
        if self.agrees:
            return "agrees" + ("" if self.order_kept else " (reordered)")
        parts = []
        if self.missing_rows:
            parts.append(f"dropped {self.missing_rows} rows")
        if self.extra_rows:
            parts.append(f"duplicated {self.extra_rows} rows")
        bad = {k: v for k, v in self.mismatches.items() if v}
        if bad:
            parts.append("values differ: " + ", ".join(f"{k}={v}" for k, v in bad.items()))
        return "DISAGREES: " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "agrees": self.agrees, "summary": self.summary()}


def compare(reference: pa.Table, other: pa.Table, columns: list[str]) -> Agreement:
    """Compare ``other`` with ``reference`` (one row per entity row, in entity order).

    Example:
        >>> import pyarrow as pa
        >>> ref = pa.table({"entity_row": [0, 1], "f1": [1.0, None]})
        >>> compare(ref, pa.table({"entity_row": [1, 0], "f1": [None, 1.0]}), ["f1"]).summary()
        'agrees (reordered)'
    """
    import numpy as np

    n = reference.num_rows
    ref_rows = reference["entity_row"].to_numpy()
    if not np.array_equal(ref_rows, np.arange(n)):
        msg = "the reference result must hold entity rows 0..n-1 in order"
        raise ValueError(msg)
    rows = other["entity_row"].to_numpy()
    counts = np.bincount(rows, minlength=n)
    order = np.argsort(rows, kind="stable")
    first = order[np.r_[True, rows[order][1:] != rows[order][:-1]]]
    present = counts > 0
    agreement = Agreement(
        rows_expected=n,
        rows_returned=other.num_rows,
        missing_rows=int((~present).sum()),
        extra_rows=int((counts - 1).clip(min=0).sum()),
        order_kept=bool(other.num_rows == n and np.array_equal(rows, np.arange(n))),
    )
    for name in columns:
        mine = _values(other[name])[first]
        theirs = _values(reference[name])[present]
        agreement.mismatches[name] = _count_different(theirs, mine)
    return agreement


def _values(column: pa.ChunkedArray) -> np.ndarray[Any, Any]:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_timestamp(column.type):
        column = pc.cast(column, pa.timestamp("us", tz="UTC")).cast(pa.int64())
    if pa.types.is_integer(column.type):
        column = column.cast(pa.float64())  # NULL -> NaN, exact below 2**53
    values: np.ndarray[Any, Any] = column.to_numpy()
    return values


def _count_different(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> int:
    import numpy as np

    same = (a == b) | (np.isnan(a) & np.isnan(b))
    return int((~same).sum())
