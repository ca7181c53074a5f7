"""A slow, obviously-correct point-in-time join in plain Python: the oracle for the engine.

It follows DESIGN.md "Point-in-time retrieval: the semantics (normative)" line by line, with
no cleverness: for every entity row and every view, list the candidates, pick the winner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

NEG_INF = float("-inf")


@dataclass
class RefView:
    """One joined view for the oracle.

    rows: feature rows as dicts, in commit order (the last one committed last); each row
    carries "_commit" (datetime: commit time of the snapshot that added it).
    """

    entity_keys: list[str]
    view_keys: list[str]
    timestamp: str
    features: list[str]
    outputs: list[str]
    rows: list[dict[str, Any]]
    created: str | None = None
    ttl: timedelta | None = None
    ingested: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _time_key(value: datetime | None) -> tuple[int, float]:
    return (0, 0.0) if value is None else (1, value.timestamp())  # NULL ranks lowest


def _rank(row: dict[str, Any], order: int, view: RefView) -> tuple[Any, ...]:
    """Greatest wins: ts, then created, then ``_ingested_at`` (kept when a write rewrites the
    row into a new file, so it stays "when the row was committed"), then commit order."""
    created = row.get(view.created) if view.created else None
    stamp = row.get(view.ingested) if view.ingested else None
    return (row["__ts"], _time_key(created), _time_key(stamp), order)


def _known_at(row: dict[str, Any], view: RefView) -> datetime:
    if view.ingested and row.get(view.ingested) is not None:
        value: datetime = row[view.ingested]
        return value
    commit: datetime = row["_commit"]
    return commit


def winner(entity: dict[str, Any], ts_column: str, view: RefView, *, known: bool) -> Any:
    """Return the winning feature row for one entity row, or None."""
    t = entity[ts_column]
    keys = [entity[k] for k in view.entity_keys]
    if t is None or any(k is None for k in keys):
        return None
    best = None
    best_rank = None
    for order, row in enumerate(view.rows):
        row_keys = [row[k] for k in view.view_keys]
        if any(k is None for k in row_keys) or row_keys != keys:
            continue
        ts = row[view.timestamp]
        if ts is None or ts > t:
            continue
        if view.ttl is not None and t - ts > view.ttl:  # ts < t - ttl, without overflow
            continue
        if known and _known_at(row, view) > t:
            continue
        rank = _rank({**row, "__ts": ts}, order, view)
        if best_rank is None or rank > best_rank:
            best, best_rank = row, rank
    return best


def reference_join(
    entities: list[dict[str, Any]], ts_column: str, views: list[RefView], *, known: bool = False
) -> list[dict[str, Any]]:
    """One output dict per entity row, in input order: entity columns then features."""
    out = []
    for entity in entities:
        result = dict(entity)
        for view in views:
            row = winner(entity, ts_column, view, known=known)
            for feature, output in zip(view.features, view.outputs, strict=True):
                result[output] = None if row is None else row[feature]
        out.append(result)
    return out
