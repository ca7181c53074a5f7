"""``featurestore models``: list logged model runs, show a model card, reproduce a training set."""

from __future__ import annotations

from pathlib import Path

import click

from featurestore.cli.files import write_parquet
from featurestore.cli.main import store_from_context
from featurestore.cli.output import emit

__all__ = ["models"]

_LIST_COLUMNS = ["model", "version", "trained_at", "rows", "features", "content_hash"]


@click.group()
def models() -> None:
    """Model runs: which snapshots trained which model, and rebuilding that data."""


@models.command("list")
@click.option("--model", "model", default=None, help="Only runs of this model.")
@click.option("--feature-view", "feature_view", default=None, help="Only runs that used this view.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_runs(*, model: str | None, feature_view: str | None, as_json: bool) -> None:
    """List logged model runs."""
    runs = store_from_context().list_model_runs(model=model, feature_view=feature_view)
    if as_json:
        emit([run.model_dump(mode="json") for run in runs], as_json=True)
        return
    rows = [
        {
            "model": r.model,
            "version": r.version,
            "trained_at": r.trained_at.strftime("%Y-%m-%d %H:%M:%S"),
            "rows": r.row_count,
            "features": len(r.feature_refs),
            "content_hash": r.content_hash[:19],
        }
        for r in runs
    ]
    if not rows:
        click.echo("No model runs logged yet.")
        return
    emit(rows, as_json=False, columns=_LIST_COLUMNS)


@models.command("show")
@click.argument("model")
@click.argument("version")
@click.option("--json", "as_json", is_flag=True, help="Print the full record as JSON.")
def show(*, model: str, version: str, as_json: bool) -> None:
    """Show the model card of MODEL VERSION."""
    run = store_from_context().get_model_run(model, version)
    emit(run.model_dump(mode="json") if as_json else run.card(), as_json=as_json)


@models.command("reproduce")
@click.argument("model")
@click.argument("version")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the rebuilt training set to this Parquet file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def reproduce(*, model: str, version: str, out: Path | None, as_json: bool) -> None:
    """Rebuild the training set of MODEL VERSION and verify its content hash."""
    store = store_from_context()
    run = store.get_model_run(model, version)
    rebuilt = store.reproduce_training_set(model, version)
    result = {
        "model": run.model,
        "version": run.version,
        "hash_check": "identical",
        "content_hash": run.content_hash,
        "rows": rebuilt.num_rows,
        "out": None,
    }
    if out is not None:
        write_parquet(rebuilt.to_arrow(), out)
        result["out"] = str(out)
    emit(result, as_json=as_json)
