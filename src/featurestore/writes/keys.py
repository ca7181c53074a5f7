"""Join-key dtypes of a new feature table: declared on the entities, else from the first write.

A store table's key columns get their types when the table is created. An entity may declare
them (``Entity.key_dtypes``); otherwise the first write takes them from its data, where each
key column (after the view's ``field_mapping``) must be present, hold values and have a
scalar type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from featurestore.errors import DataValidationError, DefinitionError
from featurestore.registry.dtypes import canonical_dtype

if TYPE_CHECKING:
    import pyarrow as pa

    from featurestore.registry.models import FeatureView

__all__ = ["input_key_dtypes", "no_key_types"]

_KEY_DTYPES = "int32, int64, string, bool, date, timestamp, decimal(p,s), float32, float64"


def input_key_dtypes(
    view: FeatureView, keys: list[str], declared: dict[str, str], schema: pa.Schema
) -> tuple[dict[str, str], dict[str, str]]:
    """The key dtypes (declared, else the input column's) and, per other key, why none.

    Example:
        >>> import pyarrow as pa
        >>> from featurestore.registry.models import Feature, FeatureView
        >>> view = FeatureView(name="v", entities=["user"], table="f.v",
        ...                    features=[Feature(name="x", dtype="int64")])
        >>> schema = pa.schema([("user_id", pa.list_(pa.int64())), ("x", pa.int64())])
        >>> input_key_dtypes(view, ["user_id", "shop"], {"shop": "string"}, schema)[0]
        {'shop': 'string'}
        >>> input_key_dtypes(view, ["user_id"], {}, schema)[1]["user_id"][:25]
        'type list<item: int64>, n'
    """
    dtypes = dict(declared)
    problems: dict[str, str] = {}
    for key in keys:
        if key in dtypes:
            continue
        dtype, problem = _input_dtype(view, key, schema)
        if dtype is not None:
            dtypes[key] = dtype
        else:
            problems[key] = problem
    return dtypes, problems


def no_key_types(view: FeatureView, problems: dict[str, str]) -> DataValidationError:
    """The error for a first write that gives no type for some join keys."""
    reasons = ", ".join(f"{k!r}: {why}" for k, why in problems.items())
    msg = (
        f"Table {view.table!r} of view {view.name!r} does not exist yet and the input gives no "
        f"type for its join key column(s) ({reasons}): the first write takes the key types "
        "from the data. Write rows with those columns, or set Entity.key_dtypes."
    )
    return DataValidationError(msg)


def _input_dtype(view: FeatureView, key: str, schema: pa.Schema) -> tuple[str | None, str]:
    """``(dtype, "")`` of the key's input column, or ``(None, why it gives none)``."""
    import pyarrow.types as pat

    source_of = {target: source for source, target in view.field_mapping.items()}
    column = source_of.get(key, key)
    if column not in schema.names:
        return None, "missing"
    arrow_type = schema.field(column).type
    if pat.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if pat.is_null(arrow_type):
        return None, "all NULL"
    try:
        dtype = canonical_dtype(arrow_type)
    except DefinitionError:
        dtype = "list<"  # unsupported: refused like a list
    if dtype.startswith("list<"):
        return None, f"type {arrow_type}, not a join key type (a scalar dtype: {_KEY_DTYPES})"
    return dtype, ""
