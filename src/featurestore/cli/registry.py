"""``featurestore apply | list | describe``: the registry from the command line."""

from __future__ import annotations

import click

from featurestore.cli.main import store_from_context
from featurestore.cli.output import emit

__all__ = ["apply", "describe", "list_definitions"]


@click.command()
@click.argument("path", type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def apply(*, path: str, as_json: bool) -> None:
    """Register the definitions in PATH (a .py or .yaml file, or a folder of them)."""
    from featurestore.registry.loader import load_definitions

    definitions = load_definitions(path)
    result = store_from_context().apply(definitions)
    if as_json:
        emit(vars(result), as_json=True)
        return
    rows = [
        {"name": name, "status": status}
        for status, names in (
            ("created", result.created),
            ("updated", result.updated),
            ("unchanged", result.unchanged),
        )
        for name in names
    ]
    emit(rows, as_json=False, columns=["name", "status"])
    click.echo(f"registry snapshot: {result.snapshot_id}")


@click.command(name="list")
@click.option("--owner", help="Only feature views of this owner.")
@click.option("--tag", help="Only feature views with this tag: KEY or KEY=VALUE.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_definitions(*, owner: str | None, tag: str | None, as_json: bool) -> None:
    """List registered entities and feature views."""
    store = store_from_context()
    tag_filter: str | dict[str, str] | None = tag
    if tag is not None and "=" in tag:
        key, _, value = tag.partition("=")
        tag_filter = {key: value}
    filtered = owner is not None or tag is not None
    entities = [] if filtered else store.list_entities()
    views = store.list_feature_views(owner=owner, tag=tag_filter)
    rows = [
        {"kind": "entity", "name": e.name, "keys": e.join_keys, "description": e.description}
        for e in entities
    ] + [
        {
            "kind": "feature_view",
            "name": v.name,
            "keys": v.entities,
            "table": v.table,
            "features": len(v.features),
            "owner": v.owner,
            "description": v.description,
        }
        for v in views
    ]
    columns = ["kind", "name", "keys", "table", "features", "owner", "description"]
    emit(rows, as_json=as_json, columns=columns)


@click.command()
@click.argument("view")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def describe(*, view: str, as_json: bool) -> None:
    """Show feature view VIEW: definition, table, current snapshot, rows, newest event."""
    from featurestore.registry.describe import describe_feature_view

    emit(describe_feature_view(store_from_context(), view), as_json=as_json)
