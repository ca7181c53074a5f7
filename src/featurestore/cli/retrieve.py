"""``featurestore retrieve``: a point-in-time training set from an entity file to Parquet."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from featurestore.cli.main import store_from_context
from featurestore.cli.output import emit

__all__ = ["retrieve"]


def _as_of_value(text: str) -> datetime | int | str:
    """``123`` -> snapshot ID, an ISO time -> datetime, anything else -> tag/branch name."""
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return text


def _parse_as_of(values: tuple[str, ...]) -> Any:
    if not values:
        return None
    if len(values) == 1 and "=" not in values[0]:
        return _as_of_value(values[0])
    mapping: dict[str, Any] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep:
            msg = f"--as-of {value!r}: with several values use VIEW=VALUE for each."
            raise click.BadParameter(msg)
        mapping[name] = _as_of_value(rest)
    return mapping


def _read_entities(path: Path) -> Any:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pq.read_table(path)
    if suffix == ".csv":
        return pacsv.read_csv(path)
    msg = f"--entities {str(path)!r}: use a .parquet or .csv file."
    raise click.BadParameter(msg)


@click.command()
@click.option(
    "--entities",
    "entities_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Entity rows: a .parquet or .csv file.",
)
@click.option(
    "--features",
    "-f",
    multiple=True,
    required=True,
    help="A feature reference (view:feature, view:*); repeat for more.",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output Parquet file.",
)
@click.option(
    "--as-of",
    "as_of",
    multiple=True,
    help="Snapshot ID, ISO time, or tag/branch; or VIEW=VALUE (repeatable).",
)
@click.option("--known", is_flag=True, help="Known-at mode: hide rows not yet ingested.")
@click.option("--full-feature-names", is_flag=True, help="Name outputs view__feature.")
@click.option("--timestamp-column", default=None, help="The entity timestamp column.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def retrieve(
    *,
    entities_path: Path,
    features: tuple[str, ...],
    out_path: Path,
    as_of: tuple[str, ...],
    known: bool,
    full_feature_names: bool,
    timestamp_column: str | None,
    as_json: bool,
) -> None:
    """Build a point-in-time correct training set and write it as Parquet."""
    import pyarrow.parquet as pq

    steps = ["reading entities", "joining features", "writing output"]
    import sys

    with click.progressbar(length=len(steps), label="retrieve", file=sys.stderr) as bar:
        entities = _read_entities(entities_path)
        bar.update(1)
        store = store_from_context()
        result = store.get_historical_features(
            entities,
            list(features),
            as_of=_parse_as_of(as_of),
            point_in_time="known" if known else "event",
            full_feature_names=full_feature_names,
            timestamp_column=timestamp_column,
        )
        bar.update(1)
        pq.write_table(result.to_arrow(), out_path)
        bar.update(1)
    emit(
        {
            "rows": result.num_rows,
            "out": str(out_path),
            "features": list(result.feature_refs),
            "snapshot_ids": result.snapshot_ids,
            "content_hash": result.content_hash(),
        },
        as_json=as_json,
    )
