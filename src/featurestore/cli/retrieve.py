"""``featurestore retrieve``: a point-in-time training set from an entity file to Parquet."""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from featurestore.cli.files import check_writable, read_table, write_parquet
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
    if path.suffix.lower() not in (".parquet", ".pq", ".csv", ".tsv"):
        msg = f"--entities {str(path)!r}: use a .parquet, .csv or .tsv file."
        raise click.BadParameter(msg)
    return read_table(path, option="--entities")


@contextlib.contextmanager
def _progress(steps: int) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr when it is a terminal; otherwise nothing is printed.

    The bar is finished (its line ended) before an error propagates, so an error message
    printed afterwards stays on a line of its own.
    """
    if not sys.stderr.isatty():
        yield lambda: None
        return
    with click.progressbar(length=steps, label="retrieve", file=sys.stderr) as bar:
        yield lambda: bar.update(1)


@click.command()
@click.option(
    "--entities",
    "entities_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Entity rows: a .parquet, .csv or .tsv file.",
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
    check_writable(out_path)
    with _progress(3) as step:
        entities = _read_entities(entities_path)
        step()
        store = store_from_context()
        result = store.get_historical_features(
            entities,
            list(features),
            as_of=_parse_as_of(as_of),
            point_in_time="known" if known else "event",
            full_feature_names=full_feature_names,
            timestamp_column=timestamp_column,
        )
        step()
        write_parquet(result.to_arrow(), out_path)
        step()
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
