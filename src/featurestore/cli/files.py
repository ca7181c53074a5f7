"""Reading input files and writing output files of the CLI, with errors as one line.

``featurestore write`` streams its input; ``featurestore retrieve`` reads its entity rows
whole. Both read Parquet or CSV/TSV here, so an unreadable or malformed file gives the
same :class:`~featurestore.errors.DataValidationError` (never a pyarrow traceback). Output
Parquet files are written by :func:`write_parquet`, which turns an ``OSError`` (missing
directory, no permission) into a :class:`click.FileError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from featurestore.errors import DataValidationError

if TYPE_CHECKING:
    from pathlib import Path

    import pyarrow as pa

__all__ = ["check_writable", "open_batches", "read_table", "write_parquet"]

_PARQUET = (".parquet", ".pq")
_CSV = (".csv", ".tsv")


def open_batches(path: Path, *, option: str = "") -> pa.RecordBatchReader:
    """Stream a Parquet or CSV/TSV file as record batches.

    Errors found later, while the batches are read, are for the consumer to translate.

    Raises:
        DataValidationError: The file cannot be opened or parsed, or has another suffix.
    """
    import pyarrow as pa

    suffix = path.suffix.lower()
    where = f"{option} {str(path)!r}" if option else repr(str(path))
    try:
        if suffix in _PARQUET:
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(path)
            return pa.RecordBatchReader.from_batches(
                parquet.schema_arrow, parquet.iter_batches(batch_size=65_536)
            )
        if suffix in _CSV:
            import pyarrow.csv as csv

            parse = csv.ParseOptions(delimiter="\t" if suffix == ".tsv" else ",")
            return csv.open_csv(path, parse_options=parse)
    except (OSError, pa.ArrowException) as exc:
        raise DataValidationError(_cannot_read(where, exc)) from None
    msg = f"Unsupported file {where}: use a .parquet, .csv or .tsv file."
    raise DataValidationError(msg)


def read_table(path: Path, *, option: str = "") -> pa.Table:
    """Read a whole Parquet or CSV/TSV file (see :func:`open_batches`).

    Raises:
        DataValidationError: The file cannot be read, or has another suffix.
    """
    import pyarrow as pa

    reader = open_batches(path, option=option)
    try:
        return reader.read_all()
    except (OSError, pa.ArrowException) as exc:
        where = f"{option} {str(path)!r}" if option else repr(str(path))
        raise DataValidationError(_cannot_read(where, exc)) from None


def check_writable(path: Path) -> None:
    """Fail early, before any work, when the directory of output ``path`` does not exist.

    Raises:
        click.FileError: The parent directory is missing or is not a directory.
    """
    parent = path.parent
    if not parent.is_dir():
        hint = f"directory {str(parent)!r} does not exist; create it or choose another path"
        raise click.FileError(str(path), hint=hint)


def write_parquet(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` as Parquet.

    Raises:
        click.FileError: The file cannot be written (the OS error is the hint).
    """
    import pyarrow.parquet as pq

    try:
        pq.write_table(table, path)
    except OSError as exc:
        raise click.FileError(str(path), hint=_one_line(exc)) from exc


def _cannot_read(where: str, exc: BaseException) -> str:
    return f"Cannot read {where}: {_one_line(exc)}. Check that it is a valid Parquet or CSV file."


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()).rstrip(".") or type(exc).__name__
