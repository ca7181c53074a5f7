"""The one point-in-time SQL builder: a join plan in, DuckDB SQL text out. Pure, no I/O.

Inputs are relations the engine registers: ``entities`` (``__fs_row``, the join-key columns,
the timestamp column) and one scan per view (its keys, timestamp, tie-break columns, features,
``__fs_order``, and in known-at mode ``__fs_commit``, see :mod:`featurestore.retrieval.scan`).

Every feature row gets a unique, totally ordered rank
``(ts, created, stamp, order)``: event time, then the created timestamp (NULL or absent ranks
lowest), then ``_ingested_at`` when the view has a created field and the table has that column
(stamped once per write and kept when a later write rewrites a data file, so a rewrite that
moves rows to a newer file does not make them "committed last"; NULL ranks lowest), then the
commit position. A tie-break the view does not have is left out of the rank rather than set to
one constant (the same order, a narrower sort key). Because ranks are unique, DuckDB's
``ASOF`` join, which picks arbitrarily among ties, always picks the same row, and so does its
small-input loop plan.

* event mode: ``entities ASOF JOIN scan ON keys AND (t, +inf, ...) >= rank``: the greatest
  rank whose ts <= t (one inequality, no pre-aggregation). When the plan is *tie-free* (no two
  rows share keys and ts, proven by :mod:`featurestore.retrieval.bounds`), ts alone is a
  unique rank: ``ON keys AND t >= ts``, a one-column sort key instead of a struct (about a
  third faster).
* known mode: a row is visible from ``avail = greatest(ts, known_at)`` on, where
  ``known_at = coalesce(_ingested_at, commit time)``; per key, a running ``max(rank)`` ordered
  by ``avail`` gives the winner among rows visible at each ``avail``; ``ASOF`` on ``avail``
  picks the right running maximum (again one inequality).

TTL is applied after the match (the winner has the greatest ts, so if it is too old every
candidate is), as ``epoch_us(t) - epoch_us(ts) <= ttl_us`` in HUGEINT, so no TTL overflows;
rows with a NULL key or timestamp skip the join; the result is joined back to every entity row
on ``__fs_row`` and ordered by it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from featurestore._internal.identifiers import quote_ident as q

__all__ = ["ENTITY_ROW", "MAX_BIGINT", "ViewJoin", "build_sql"]

ENTITY_ROW = "__fs_row"
MAX_BIGINT = 9223372036854775807
_MIN_BIGINT = -MAX_BIGINT  # ranks a NULL created timestamp below every real one


@dataclass(frozen=True)
class ViewJoin:
    """One view (alias) to join.

    Attributes:
        relation: The registered scan relation.
        entity_keys: Entity columns, matched position by position with ``view_keys``.
        view_keys: Join-key columns of the scan.
        timestamp: Event-time column of the scan.
        created: Tie-break column (created timestamp or ``_ingested_at``), if any.
        ingested: ``_ingested_at`` if the table has it (known mode).
        features: Feature columns of the scan.
        outputs: Output column name of each feature.
        ttl_us: Maximum age in microseconds (any size), or None.
        stamp: Second tie-break column, after ``created`` and before the commit position:
            ``_ingested_at`` when the table has it and ``created`` is another column.
        tie_free: No two scanned rows share their keys and timestamp (proven by the plan):
            event mode ranks by the timestamp alone.
    """

    relation: str
    entity_keys: tuple[str, ...]
    view_keys: tuple[str, ...]
    timestamp: str
    created: str | None
    ingested: str | None
    features: tuple[str, ...]
    outputs: tuple[str, ...]
    ttl_us: int | None = None
    stamp: str | None = None
    tie_free: bool = False


def build_sql(
    *, entities: str, timestamp: str, views: Sequence[ViewJoin], known: bool = False
) -> str:
    """Return the DuckDB query producing the feature columns, one row per entity row, in order.

    Args:
        entities: The entity relation (``__fs_row``, keys, ``timestamp``).
        timestamp: The entity timestamp column.
        views: The joins, in output order.
        known: Known-at mode.

    Example:
        >>> v = ViewJoin("scan_0", ("user_id",), ("user_id",), "ts", None, None, ("x",), ("x",))
        >>> sql = build_sql(entities="entities", timestamp="t", views=[v])
        >>> "ASOF JOIN" in sql and sql.rstrip().endswith('ORDER BY e."__fs_row"')
        True
    """
    ctes: list[str] = []
    for i, view in enumerate(views):
        ctes.append(_entity_side(i, entities, timestamp, view))
        ctes.extend(_known_side(i, view) if known else _event_side(i, view))
        ctes.append(_match(i, view, known=known))
    outputs = [
        f"j{i}.{q(f'__fs_f{n}')} AS {q(out)}"
        for i, view in enumerate(views)
        for n, out in enumerate(view.outputs)
    ]
    joins = [
        f"LEFT JOIN j{i} ON j{i}.{q(ENTITY_ROW)} = e.{q(ENTITY_ROW)}" for i in range(len(views))
    ]
    return (
        "WITH\n" + ",\n".join(ctes) + "\n"
        f"SELECT {', '.join(outputs)}\nFROM {q(entities)} e\n" + "\n".join(joins) + "\n"
        f"ORDER BY e.{q(ENTITY_ROW)}\n"
    )


def _keys(prefix: str, columns: Sequence[str]) -> list[str]:
    return [f"{prefix}{q(c)} AS {q(f'__fs_k{n}')}" for n, c in enumerate(columns)]


def _not_null(columns: Sequence[str]) -> str:
    return " AND ".join(f"{q(c)} IS NOT NULL" for c in columns)


def _entity_side(i: int, entities: str, timestamp: str, view: ViewJoin) -> str:
    columns = [q(ENTITY_ROW), *_keys("", view.entity_keys), f"{q(timestamp)} AS __fs_t"]
    where = _not_null([*view.entity_keys, timestamp])
    return f"e{i} AS (SELECT {', '.join(columns)} FROM {q(entities)} WHERE {where})"


def _rank_fields(view: ViewJoin) -> list[tuple[str, str | None]]:
    """The rank's fields after ``t``: ``(name, column)``; a field without a column is left out.

    Leaving out a field that would be the same for every row keeps the ranks' order and makes
    the join's sort key narrower (each field is 8 more bytes per row to sort).
    """
    tie_breaks = [("c", view.created), ("i", view.stamp)]
    return [(name, column) for name, column in tie_breaks if column] + [("o", None)]


def _rank(view: ViewJoin) -> str:
    ts = f"CAST({q(view.timestamp)} AS TIMESTAMPTZ)"
    fields = [f"t := {ts}"] + [
        f"{name} := coalesce(epoch_us({q(column)}), {_MIN_BIGINT})"
        if column
        else f"{name} := __fs_order"
        for name, column in _rank_fields(view)
    ]
    return f"struct_pack({', '.join(fields)})"


def _top_rank(view: ViewJoin) -> str:
    """The entity side of the ASOF inequality: ``(t, +inf, ...)``, above every rank at ``t``."""
    fields = ["t := e.__fs_t"] + [f"{name} := {MAX_BIGINT}" for name, _ in _rank_fields(view)]
    return f"struct_pack({', '.join(fields)})"


def _features(view: ViewJoin) -> list[str]:
    return [f"{q(f)} AS {q(f'__fs_f{n}')}" for n, f in enumerate(view.features)]


def _feature_where(view: ViewJoin) -> str:
    return _not_null([*view.view_keys, view.timestamp])


def _event_side(i: int, view: ViewJoin) -> list[str]:
    rank = f"CAST({q(view.timestamp)} AS TIMESTAMPTZ)" if view.tie_free else _rank(view)
    columns = [*_keys("", view.view_keys), f"{rank} AS __fs_rank", *_features(view)]
    return [
        f"s{i} AS (SELECT {', '.join(columns)} FROM {q(view.relation)} "
        f"WHERE {_feature_where(view)})"
    ]


def _known_side(i: int, view: ViewJoin) -> list[str]:
    known_at = f"coalesce({q(view.ingested)}, __fs_commit)" if view.ingested else "__fs_commit"
    ts = f"CAST({q(view.timestamp)} AS TIMESTAMPTZ)"
    payload = ", ".join(
        [f"r := {_rank(view)}"]
        + [f"{q(f'__fs_f{n}')} := {q(f)}" for n, f in enumerate(view.features)]
    )
    keys = [q(f"__fs_k{n}") for n in range(len(view.view_keys))]
    side = (
        f"s{i} AS (SELECT {', '.join(_keys('', view.view_keys))}, "
        f"greatest({ts}, CAST({known_at} AS TIMESTAMPTZ)) AS __fs_avail, "
        f"struct_pack({payload}) AS __fs_best FROM {q(view.relation)} "
        f"WHERE {_feature_where(view)})"
    )
    running = (
        f"x{i} AS (SELECT {', '.join(keys)}, __fs_avail, max(max(__fs_best)) OVER "
        f"(PARTITION BY {', '.join(keys)} ORDER BY __fs_avail "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS __fs_best "
        f"FROM s{i} GROUP BY {', '.join(keys)}, __fs_avail)"
    )
    return [side, running]


def _match(i: int, view: ViewJoin, *, known: bool) -> str:
    keys = " AND ".join(
        f"e.{q(f'__fs_k{n}')} = f.{q(f'__fs_k{n}')}" for n in range(len(view.view_keys))
    )
    if known:
        source, ineq, ts = f"x{i}", "e.__fs_t >= f.__fs_avail", "f.__fs_best.r.t"
        values = [f"f.__fs_best.{q(f'__fs_f{n}')}" for n in range(len(view.features))]
    else:
        top = "e.__fs_t" if view.tie_free else _top_rank(view)
        source, ineq = f"s{i}", f"{top} >= f.__fs_rank"
        ts = "f.__fs_rank" if view.tie_free else "f.__fs_rank.t"
        values = [f"f.{q(f'__fs_f{n}')}" for n in range(len(view.features))]
    columns = [f"e.{q(ENTITY_ROW)}"] + [f"{v} AS {q(f'__fs_f{n}')}" for n, v in enumerate(values)]
    ttl = (
        f"\n  WHERE CAST(epoch_us(e.__fs_t) AS HUGEINT) - epoch_us({ts}) "
        f"<= CAST({int(view.ttl_us)} AS HUGEINT)"
        if view.ttl_us is not None
        else ""
    )
    return (
        f"j{i} AS (SELECT {', '.join(columns)}\n  FROM e{i} e ASOF JOIN {source} f\n"
        f"  ON {keys} AND {ineq}{ttl})"
    )
