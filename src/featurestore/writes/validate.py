"""Validate and cast incoming feature data to the table's Arrow schema, before any commit.

Rules (each violation raises :class:`~featurestore.errors.DataValidationError`, nothing written):

- the view's ``field_mapping`` renames source columns first;
- the columns must be exactly the join keys, the timestamp, the created timestamp (if any)
  and the features: missing and unexpected columns are listed by name;
- ``_ingested_at`` must not be given: the store stamps it, one value per write;
- only safe casts: integers widen (``int32 -> int64``), floats widen (``float32 ->
  float64``), integers become floats when every value is exact (``|v| <= 2**53``), decimals
  keep their scale and may gain precision, ``string``/``large_string`` and dictionary-encoded
  strings are interchangeable, an all-NULL column fits any type. Never ``string -> number``,
  ``float -> int`` or a narrowing cast;
- timestamps: naive values are UTC, aware ones are converted; all become ``us``/UTC;
- NULL join keys or timestamps are rejected with their count and the first offending rows;
- in ``replace_range`` every row's timestamp must lie in ``[start, end)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from featurestore._internal.arrow import is_timestamp, normalize_timestamps
from featurestore.errors import DataValidationError
from featurestore.registry.models import INGESTED_AT

if TYPE_CHECKING:
    import pyarrow as pa

    from featurestore.registry.models import FeatureView

__all__ = ["WriteSpec", "prepare"]

_MAX_EXACT_INT = 2**53
_SHOWN_ROWS = 5


@dataclass(frozen=True)
class WriteSpec:
    """What incoming data must look like.

    Attributes:
        view: The feature view written.
        join_keys: Its join keys, in order.
        target: The Arrow schema of the table (including ``_ingested_at``).
        ingested_at: The one ``_ingested_at`` value of this write (UTC).
        window: ``(start, end)`` that every timestamp must lie in, for ``replace_range``.
    """

    view: FeatureView
    join_keys: list[str]
    target: pa.Schema
    ingested_at: datetime
    window: tuple[datetime, datetime] | None = None

    @property
    def expected(self) -> list[str]:
        """The columns the data must have (after ``field_mapping``)."""
        view = self.view
        names = [*self.join_keys, view.timestamp_field]
        if view.created_timestamp_field:
            names.append(view.created_timestamp_field)
        return names + view.feature_names


def prepare(data: pa.Table, spec: WriteSpec, *, first_row: int = 0) -> pa.Table:
    """Validate ``data`` and return it cast to ``spec.target``, ``_ingested_at`` stamped.

    Args:
        data: The data, or one chunk of a streamed input.
        spec: What the data must look like.
        first_row: The input row number of ``data``'s first row (for a chunk of a stream),
            so that messages name offending rows by their row number in the whole input.

    Raises:
        DataValidationError: The data does not fit; the message says what and how to fix it.

    Example:
        >>> import pyarrow as pa, datetime as dt
        >>> from featurestore.registry.models import Feature, FeatureView
        >>> view = FeatureView(name="s", entities=["user"], table="f.s",
        ...                    features=[Feature(name="x", dtype="float64")])
        >>> target = pa.schema([pa.field("user_id", pa.int64(), nullable=False),
        ...     pa.field("event_timestamp", pa.timestamp("us", "UTC"), nullable=False),
        ...     pa.field("x", pa.float64()), pa.field("_ingested_at", pa.timestamp("us", "UTC"))])
        >>> now = dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc)
        >>> data = pa.table({"user_id": pa.array([1], pa.int32()),
        ...                  "event_timestamp": [dt.datetime(2024, 1, 1)], "x": [0.5]})
        >>> prepare(data, WriteSpec(view, ["user_id"], target, now)).schema.field("user_id").type
        DataType(int64)
    """
    data = _rename(data, spec.view)
    _check_columns(data, spec)
    data = normalize_timestamps(data, [c for c in data.column_names if is_timestamp(data[c].type)])
    columns = {
        name: _cast(data[name], spec.target.field(name).type, name) for name in spec.expected
    }
    _check_not_null(data, columns, [*spec.join_keys, spec.view.timestamp_field], first_row)
    if spec.window is not None:
        _check_window(data, columns[spec.view.timestamp_field], spec, first_row)
    return _assemble(columns, data.num_rows, spec)


def _rename(data: pa.Table, view: FeatureView) -> pa.Table:
    mapping = {s: t for s, t in view.field_mapping.items() if s in data.column_names}
    if not mapping:
        return data
    renamed = [mapping.get(c, c) for c in data.column_names]
    clash = sorted({c for c in renamed if renamed.count(c) > 1})
    if clash:
        msg = (
            f"field_mapping of view {view.name!r} renames columns onto existing ones: {clash}. "
            "Drop one of the two columns before writing."
        )
        raise DataValidationError(msg)
    return data.rename_columns(renamed)


def _check_columns(data: pa.Table, spec: WriteSpec) -> None:
    view = spec.view
    if INGESTED_AT in data.column_names:
        msg = (
            f"Column {INGESTED_AT!r} is stamped by the store on every write; drop it from the "
            f"data written to view {view.name!r}."
        )
        raise DataValidationError(msg)
    expected = spec.expected
    missing = [c for c in expected if c not in data.column_names]
    unexpected = [c for c in data.column_names if c not in expected]
    duplicated = sorted({c for c in data.column_names if data.column_names.count(c) > 1})
    if not (missing or unexpected or duplicated):
        return
    parts = []
    if missing:
        parts.append(f"missing columns {missing}")
    if unexpected:
        parts.append(f"unexpected columns {unexpected}")
    if duplicated:
        parts.append(f"duplicated columns {duplicated}")
    hint = " (field_mapping renames source columns)" if view.field_mapping else ""
    msg = (
        f"Data for feature view {view.name!r} has {'; '.join(parts)}. It needs exactly the join "
        f"keys, timestamp and features{hint}: {expected}. Rename, add or drop columns, or "
        "set field_mapping on the view."
    )
    raise DataValidationError(msg)


def _cast(column: Any, target: pa.DataType, name: str) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    source = column.type
    if source == target:
        return column
    if pa.types.is_dictionary(source):
        column = column.cast(source.value_type)
        return _cast(column, target, name)
    verdict = _cast_verdict(source, target)
    if verdict == "checked" and not _exact_in_float(column):
        msg = (
            f"Column {name!r}: integer values beyond ±2**53 cannot become {target} exactly. "
            "Declare the feature as int64, or cast the values yourself."
        )
        raise DataValidationError(msg)
    if verdict is None:
        msg = (
            f"Column {name!r} has type {source}, which cannot be cast safely to {target}. "
            "Safe casts: wider ints, wider floats, ints to floats, decimals with the same scale, "
            "whole decimals to ints (e.g. a SQL SUM), dates to timestamps (midnight UTC), "
            "string encodings, naive/aware timestamps. Convert the column before writing."
        )
        raise DataValidationError(msg)
    try:
        return pc.cast(column, target, safe=True)
    except pa.ArrowInvalid as exc:  # "values": a value out of the target's range
        msg = f"Column {name!r}: a value does not fit {target} ({exc})."
        raise DataValidationError(msg) from exc


def _cast_verdict(source: pa.DataType, target: pa.DataType) -> str | None:
    """How a cast from ``source`` to ``target`` is safe, or None when it is not.

    ``"ok"``: lossless; ``"checked"``: ints to float64, exact only up to 2**53 (checked);
    ``"values"``: the safe cast itself checks each value's range (whole decimals to ints).
    """
    import pyarrow.types as t

    if t.is_null(source):
        return "ok"
    if t.is_integer(target) and t.is_integer(source):
        return "ok" if _int_width(source) <= _int_width(target) else None
    if t.is_floating(target) and t.is_floating(source):
        return "ok" if source.bit_width <= target.bit_width else None
    if t.is_floating(target) and t.is_integer(source):
        if target.bit_width < 64:  # float32 holds ints exactly only up to 2**24
            return "ok" if _int_width(source) <= 16 else None
        return "ok" if _int_width(source) <= 53 else "checked"
    if t.is_decimal(target) and t.is_decimal(source):
        keeps = source.scale == target.scale and source.precision <= target.precision
        return "ok" if keeps else None
    if t.is_integer(target) and t.is_decimal(source) and source.scale == 0:
        return "values"  # a safe cast checks each value's range
    if t.is_date(source) and t.is_timestamp(target):
        return "ok"
    strings = (t.is_string(source) or t.is_large_string(source)) and (
        t.is_string(target) or t.is_large_string(target)
    )
    if strings or (t.is_date(source) and t.is_date(target)):
        return "ok"
    if _is_list(source) and _is_list(target):
        inner = _cast_verdict(source.value_type, target.value_type)
        return "ok" if inner == "ok" else None
    return None


def _is_list(arrow_type: pa.DataType) -> bool:
    import pyarrow.types as t

    return bool(t.is_list(arrow_type) or t.is_large_list(arrow_type))


def _int_width(arrow_type: pa.DataType) -> int:
    """Bits needed to hold every value of an integer type as a signed integer."""
    import pyarrow.types as t

    return int(arrow_type.bit_width) + (1 if t.is_unsigned_integer(arrow_type) else 0)


def _exact_in_float(column: Any) -> bool:
    import pyarrow.compute as pc

    bounds = pc.min_max(column).as_py()
    low, high = bounds["min"], bounds["max"]
    return low is None or (low >= -_MAX_EXACT_INT and high <= _MAX_EXACT_INT)


def _check_not_null(
    data: pa.Table, columns: dict[str, Any], required: list[str], first_row: int
) -> None:
    """Join keys and timestamps must hold values: no NULL, and no NaN in a float key."""
    import pyarrow.compute as pc
    import pyarrow.types as pat

    masks: dict[str, Any] = {}
    for name in required:
        column = columns[name]
        if pat.is_floating(column.type):
            missing = pc.is_null(column, nan_is_null=True)
            if pc.any(missing).as_py():
                masks[name] = missing
        elif column.null_count:
            masks[name] = pc.is_null(column)
    if not masks:
        return
    mask = None
    for missing in masks.values():
        mask = missing if mask is None else pc.or_(mask, missing)
    rows = _first_rows(data, mask, first_row)
    counts = ", ".join(f"{n!r}: {pc.sum(m).as_py()} NULL or NaN" for n, m in masks.items())
    msg = (
        f"Join keys and timestamps must not be NULL or NaN ({counts}). First offending rows: "
        f"{rows}. Drop or fill these rows before writing."
    )
    raise DataValidationError(msg)


def _check_window(data: pa.Table, timestamps: Any, spec: WriteSpec, first_row: int) -> None:
    import pyarrow.compute as pc

    assert spec.window is not None
    start, end = spec.window
    outside = pc.or_(pc.less(timestamps, start), pc.greater_equal(timestamps, end))
    count = pc.sum(pc.cast(outside, "int64")).as_py() or 0
    if count:
        msg = (
            f"{count} row(s) have {spec.view.timestamp_field!r} outside the replaced range "
            f"[{start.isoformat()}, {end.isoformat()}). First offending rows: "
            f"{_first_rows(data, outside, first_row)}. Filter the data to the range, or widen it."
        )
        raise DataValidationError(msg)


def _first_rows(data: pa.Table, mask: Any, first_row: int) -> list[dict[str, Any]]:
    """The first offending rows, each with its row number in the whole input."""
    import pyarrow.compute as pc

    indices = pc.indices_nonzero(mask).slice(0, _SHOWN_ROWS)
    shown = data.take(indices).to_pylist()
    numbers = [first_row + i for i in indices.to_pylist()]
    return [{"row": n, **r} for n, r in zip(numbers, shown, strict=True)]


def _assemble(columns: dict[str, Any], num_rows: int, spec: WriteSpec) -> pa.Table:
    import pyarrow as pa

    arrays = []
    for field in spec.target:
        if field.name == INGESTED_AT:
            arrays.append(pa.repeat(pa.scalar(spec.ingested_at, field.type), num_rows))
        elif field.name in columns:
            arrays.append(columns[field.name])
        else:  # a column of the table that the view no longer has
            arrays.append(pa.nulls(num_rows, field.type))
    return pa.Table.from_arrays(arrays, schema=spec.target)
