"""Checks of a feature view against the Iceberg table it names, and against its last version.

Both return a list of problems (empty when all is well) so that ``apply`` can report every
problem of every definition at once before it writes anything.

Columns are matched by the declared names, i.e. after ``field_mapping``: the mapping renames
incoming data on write (``{"spend": "spend_7d"}``: data column ``spend`` is stored as
``spend_7d``), and retrieval reads the table by feature name, so the table must hold
``spend_7d``.
A column may be narrower than declared when Iceberg could widen it: ``int32`` for ``int64``,
``float32`` for ``float64``, ``decimal(9,2)`` for ``decimal(12,2)``, and lists of those.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from featurestore.errors import DefinitionError
from featurestore.registry.dtypes import canonical_dtype

if TYPE_CHECKING:
    from pyiceberg.schema import Schema

    from featurestore.registry.models import Entity, FeatureView

__all__ = ["check_against_table", "check_change", "dtype_fits", "find_column", "table_dtypes"]

_WIDENINGS = {("int32", "int64"), ("float32", "float64")}
_DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")
_LIST = re.compile(r"^list<(.+)>$")


def dtype_fits(actual: str, declared: str) -> bool:
    """Whether a column of dtype ``actual`` can serve a feature declared ``declared``.

    Example:
        >>> dtype_fits("int32", "int64"), dtype_fits("int64", "int32")
        (True, False)
        >>> dtype_fits("decimal(9,2)", "decimal(12,2)"), dtype_fits("string", "int64")
        (True, False)
    """
    if actual == declared or (actual, declared) in _WIDENINGS:
        return True
    if (a := _DECIMAL.match(actual)) and (d := _DECIMAL.match(declared)):
        return a.group(2) == d.group(2) and int(a.group(1)) <= int(d.group(1))
    if (a := _LIST.match(actual)) and (d := _LIST.match(declared)):
        return dtype_fits(a.group(1), d.group(1))
    return False


def table_dtypes(schema: Schema) -> dict[str, str]:
    """Top-level columns of an Iceberg schema -> canonical dtype (or the raw type, unsupported).

    Example:
        >>> from pyiceberg.schema import Schema
        >>> from pyiceberg.types import NestedField, IntegerType, BinaryType
        >>> schema = Schema(NestedField(1, "a", IntegerType()), NestedField(2, "b", BinaryType()))
        >>> table_dtypes(schema)
        {'a': 'int32', 'b': 'unsupported binary'}
    """
    from pyiceberg.io.pyarrow import schema_to_pyarrow

    result: dict[str, str] = {}
    for arrow_field, iceberg_field in zip(
        schema_to_pyarrow(schema, include_field_ids=False), schema.fields, strict=True
    ):
        try:
            result[arrow_field.name] = canonical_dtype(arrow_field.type)
        except DefinitionError:
            result[arrow_field.name] = f"unsupported {iceberg_field.field_type}"
    return result


def check_against_table(
    view: FeatureView,
    entities: dict[str, Entity],
    columns: dict[str, str],
    *,
    evolvable: bool = False,
) -> list[str]:
    """Problems of ``view`` against the columns (name -> dtype) of its existing table.

    With ``evolvable`` (a table the store created), missing *feature* columns are not a
    problem: apply adds them to the table (schema evolution). Keys and timestamps must exist.

    Example:
        >>> from featurestore.registry.models import Entity, Feature, FeatureView
        >>> view = FeatureView(name="v", entities=["user"], table="f.v",
        ...                    features=[Feature(name="x", dtype="int64")])
        >>> check_against_table(view, {"user": Entity(name="user")},
        ...                     {"user": "int64", "event_timestamp": "timestamp", "x": "string"})
        ["feature 'x' is declared 'int64' but column 'x' is 'string'"]
    """
    missing: list[str] = []
    problems: list[str] = []
    expected: list[tuple[str, str, str | None]] = []  # (what, name, declared dtype)
    for entity_name in view.entities:
        entity = entities[entity_name]
        expected += [("join key", k, entity.key_dtypes.get(k)) for k in entity.join_keys]
    expected.append(("timestamp field", view.timestamp_field, "timestamp"))
    if view.created_timestamp_field:
        expected.append(("created timestamp field", view.created_timestamp_field, "timestamp"))
    expected += [("feature", f.name, f.dtype) for f in view.features]
    for what, name, declared in expected:
        column = find_column(view, name, columns)
        if column is None:
            if not (evolvable and what == "feature"):
                missing.append(name)
        elif declared is not None and not dtype_fits(columns[column], declared):
            problems.append(
                f"{what} {name!r} is declared {declared!r} but column {column!r} "
                f"is {columns[column]!r}"
            )
    if missing:
        problems.insert(0, f"missing columns {missing}")
    return problems


def check_change(
    old: FeatureView, new: FeatureView, old_keys: list[str], new_keys: list[str]
) -> list[str]:
    """Changes from ``old`` to ``new`` that the view's existing table cannot follow.

    Example:
        >>> from featurestore.registry.models import Feature, FeatureView
        >>> old = FeatureView(name="v", entities=["user"], table="f.v",
        ...                   features=[Feature(name="x", dtype="int64")])
        >>> new = old.model_copy(update={"features": [Feature(name="x", dtype="string")]})
        >>> check_change(old, new, ["user"], ["user"])
        ["feature 'x' changed dtype from 'int64' to 'string'"]
    """
    problems: list[str] = []
    if old.entities != new.entities:
        problems.append(f"entities changed from {old.entities} to {new.entities}")
    if old_keys != new_keys:
        problems.append(f"join keys changed from {old_keys} to {new_keys}")
    old_dtypes = {f.name: f.dtype for f in old.features}
    for feature in new.features:
        before = old_dtypes.get(feature.name)
        if before is not None and not dtype_fits(before, feature.dtype):
            problems.append(
                f"feature {feature.name!r} changed dtype from {before!r} to {feature.dtype!r}"
            )
    return problems


def find_column(view: FeatureView, name: str, columns: dict[str, str]) -> str | None:
    """The table column that holds ``name``, if any (tables store names after mapping)."""
    return name if name in columns else None
