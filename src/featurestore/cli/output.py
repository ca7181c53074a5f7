"""Rendering of command results: a readable table or aligned keys, or JSON with ``--json``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import click

__all__ = ["emit", "render_table", "to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """Turn definitions, datetimes and other values into JSON-ready data."""
    if hasattr(value, "model_dump"):
        return to_jsonable(value.model_dump(mode="json"))
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


def render_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Render rows as a plain, aligned text table.

    Example:
        >>> print(render_table([{"a": 1, "b": "x"}], ["a", "b"]))
        a  b
        -  -
        1  x
    """
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def emit(data: Any, *, as_json: bool, columns: Sequence[str] | None = None) -> None:
    """Print ``data``: JSON when ``as_json``, else a table (rows + columns) or key: value lines."""
    if as_json:
        click.echo(json.dumps(to_jsonable(data), indent=2, sort_keys=False, default=str))
    elif columns is not None:
        click.echo(render_table(to_jsonable(data), columns))
    else:
        click.echo(_render_mapping(to_jsonable(data)))


def _render_mapping(data: Any, indent: int = 0) -> str:
    pad = "  " * indent
    if not isinstance(data, Mapping):
        return f"{pad}{_cell(data)}"
    lines = []
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            lines.append(f"{pad}{key}:")
            lines.append(_render_mapping(value, indent + 1))
        else:
            lines.append(f"{pad}{key}: {_cell(value)}")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value)
