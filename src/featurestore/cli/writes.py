"""``featurestore write`` and ``featurestore materialize``: feature data into Iceberg."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from featurestore.cli.files import open_batches
from featurestore.cli.main import store_from_context
from featurestore.cli.output import emit

if TYPE_CHECKING:
    from featurestore.writes.writer import WriteMode

__all__ = ["materialize", "write"]

_MODES = ("append", "upsert", "replace_range")
_RESULT_KEYS = ("view", "table", "mode", "snapshot_id", "rows_written", "rows_deleted")


@click.command()
@click.argument("view")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mode", type=click.Choice(_MODES), default="append", show_default=True)
@click.option("--start", type=click.DateTime(), help="Start of the replaced range (UTC).")
@click.option("--end", type=click.DateTime(), help="End of the replaced range, exclusive (UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def write(
    *,
    view: str,
    file: Path,
    mode: str,
    start: datetime | None,
    end: datetime | None,
    as_json: bool,
) -> None:
    """Write FILE (Parquet or CSV) to feature view VIEW, in one atomic commit."""
    from featurestore.writes.writer import FeatureWriter

    store = store_from_context()
    reader = open_batches(file)

    def progress(rows: int) -> None:
        click.echo(f"written {rows:,} rows...", err=True)

    result = FeatureWriter(store).write(
        view,
        reader,
        mode=cast("WriteMode", mode),
        start=start,
        end=end,
        progress=progress,
    )
    emit(_as_row(result), as_json=as_json)


@click.command()
@click.argument("view")
@click.option(
    "--sql",
    "sql_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File with one DuckDB SELECT; may name Iceberg tables and use $start / $end.",
)
@click.option("--start", type=click.DateTime(), required=True, help="Range start (UTC).")
@click.option("--end", type=click.DateTime(), required=True, help="Range end, exclusive (UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def materialize(
    *, view: str, sql_file: Path, start: datetime, end: datetime, as_json: bool
) -> None:
    """Compute VIEW for [--start, --end) with DuckDB SQL over Iceberg tables."""
    from featurestore.writes.materialize import materialize as run

    store = store_from_context()
    result = run(store, view, sql_file.read_text(encoding="utf-8"), start=start, end=end)
    emit(_as_row(result), as_json=as_json)


def _as_row(result: Any) -> dict[str, Any]:
    return {key: getattr(result, key) for key in _RESULT_KEYS}
