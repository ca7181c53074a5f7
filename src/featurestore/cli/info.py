"""``featurestore info``: the resolved configuration (secrets masked) and catalog status."""

from __future__ import annotations

import click

from featurestore.cli.main import store_from_context
from featurestore.cli.output import emit

__all__ = ["info"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info(*, as_json: bool) -> None:
    """Show the resolved configuration, the catalog and whether it is reachable."""
    store = store_from_context()
    result = store.info()
    emit(result, as_json=as_json)
    if not result["reachable"]:
        raise SystemExit(1)
