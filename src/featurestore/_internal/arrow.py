"""Turning user data (pandas, polars, pyarrow) into Arrow, and normalising timestamps.

Shared by writes (feature data) and retrieval (entity rows), so both accept the same inputs
and treat time the same way: naive timestamps are UTC, aware ones are converted to UTC, and
every timestamp becomes ``timestamp[us, tz=UTC]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from featurestore.errors import DataValidationError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["UTC_US", "is_timestamp", "normalize_timestamps", "to_arrow_reader", "to_arrow_table"]

UTC_US = "timestamp[us, tz=UTC]"


def to_arrow_reader(data: Any, *, what: str = "data") -> pa.RecordBatchReader:
    """Return ``data`` as a RecordBatchReader without materialising a reader input.

    Accepts a pyarrow Table, RecordBatch or RecordBatchReader, a pandas DataFrame or a
    polars DataFrame / LazyFrame.

    Raises:
        DataValidationError: ``data`` is of another type; the message lists the valid ones.

    Example:
        >>> import pyarrow as pa
        >>> to_arrow_reader(pa.table({"a": [1]})).read_all().num_rows
        1
    """
    import pyarrow as pa

    if isinstance(data, pa.RecordBatchReader):
        return data
    table = to_arrow_table(data, what=what)
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches())


def to_arrow_table(data: Any, *, what: str = "data") -> pa.Table:
    """Return ``data`` as a pyarrow Table (a reader is read to the end).

    Example:
        >>> import pandas as pd
        >>> to_arrow_table(pd.DataFrame({"a": [1, 2]})).num_rows
        2
    """
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        return _from_pandas(data)
    if module == "polars":
        frame = data.collect() if hasattr(data, "collect") else data
        return frame.to_arrow()
    msg = (
        f"Unsupported {what} of type {type(data).__name__!r}: pass a pandas or polars "
        "DataFrame, or a pyarrow Table, RecordBatch or RecordBatchReader."
    )
    raise DataValidationError(msg)


def _from_pandas(frame: Any) -> pa.Table:
    import pyarrow as pa

    if not all(isinstance(c, str) for c in frame.columns):
        bad = [c for c in frame.columns if not isinstance(c, str)]
        msg = f"Column names must be strings; got {bad!r}."
        raise DataValidationError(msg)
    if not frame.columns.is_unique:
        duplicated = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
        msg = f"Column names must be unique; duplicated columns {duplicated}. Drop or rename them."
        raise DataValidationError(msg)
    frame = _pandas_timestamps_as_utc(frame)
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except pa.ArrowException as exc:
        raise _conversion_error(frame, exc) from exc


def _conversion_error(frame: Any, exc: Exception) -> DataValidationError:
    """Name the pandas column pyarrow cannot convert (e.g. an object column of mixed types)."""
    import pyarrow as pa

    first = exc.args[0] if exc.args else exc
    detail = " ".join(str(first).split()).rstrip(".")
    for name in frame.columns:
        try:
            pa.array(frame[name], from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError):
            kinds = sorted({type(v).__name__ for v in frame[name].dropna()})
            msg = (
                f"Column {name!r} cannot be converted to Arrow ({detail}); its values are of "
                f"types {kinds}. Give the column one type (e.g. with .astype()) and retry."
            )
            return DataValidationError(msg)
    msg = f"The pandas DataFrame cannot be converted to Arrow: {detail}. Fix the column types."
    return DataValidationError(msg)


def _pandas_timestamps_as_utc(data: Any) -> Any:
    """Give pandas datetime columns as naive UTC (which means UTC here).

    Covers object columns of datetimes in mixed zones, and sidesteps pyarrow reading
    ``Series.values`` of zone-aware columns, which pandas 3.1 deprecates with a warning.
    """
    if type(data).__module__.split(".")[0] != "pandas" or not hasattr(data, "columns"):
        return data
    import datetime as dt

    import pandas as pd

    fixed = None
    for name in data.columns:
        column = data[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            converted = column.dt.tz_convert(None)
        elif column.dtype == object and _all_datetimes(column.dropna(), dt.datetime):
            converted = pd.to_datetime(column, utc=True).dt.tz_convert(None)
        else:
            continue
        if fixed is None:
            fixed = data.copy()
        fixed[name] = converted
    return data if fixed is None else fixed


def _all_datetimes(values: Any, kind: type) -> bool:
    return len(values) > 0 and all(isinstance(v, kind) for v in values)


def is_timestamp(arrow_type: pa.DataType) -> bool:
    """Whether ``arrow_type`` is a timestamp (any unit, naive or aware)."""
    import pyarrow.types as pat

    return bool(pat.is_timestamp(arrow_type))


def normalize_timestamps(table: pa.Table, columns: list[str] | None = None) -> pa.Table:
    """Cast timestamp columns to ``timestamp[us, tz=UTC]``.

    Naive timestamps are taken as UTC; aware ones are converted (the instant is kept).
    Nanosecond values that are not whole microseconds are rejected, never truncated silently.

    Args:
        table: The data.
        columns: Which columns to normalise (default: every timestamp column).

    Raises:
        DataValidationError: A column would lose sub-microsecond precision.

    Example:
        >>> import pyarrow as pa, datetime as dt
        >>> t = pa.table({"ts": pa.array([dt.datetime(2024, 1, 1)], pa.timestamp("ns"))})
        >>> str(normalize_timestamps(t).schema.field("ts").type)
        'timestamp[us, tz=UTC]'
    """
    import pyarrow as pa

    target = pa.timestamp("us", tz="UTC")
    for name in columns if columns is not None else table.column_names:
        column = table.column(name)
        if not is_timestamp(column.type) or column.type == target:
            continue
        unit = column.type.unit
        as_utc = column.cast(pa.timestamp(unit, tz="UTC"))
        if unit == "ns" and not _whole_microseconds(as_utc):
            msg = (
                f"Column {name!r} has timestamps with nanoseconds that are not whole "
                "microseconds; Iceberg stores microseconds. Round them first."
            )
            raise DataValidationError(msg)
        index = table.column_names.index(name)
        table = table.set_column(
            index, table.schema.field(name).with_type(target), as_utc.cast(target, safe=False)
        )
    return table


def _whole_microseconds(column: Any) -> bool:
    import pyarrow as pa
    import pyarrow.compute as pc

    nanos = column.cast(pa.int64())
    truncated = pc.multiply(pc.divide(nanos, 1000), 1000)
    return bool(pc.all(pc.equal(nanos, truncated)).as_py() is not False)
