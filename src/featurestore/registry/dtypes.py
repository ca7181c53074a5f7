"""Feature data types: a small string vocabulary, mapped to Arrow types.

Definitions store dtypes as canonical strings so that they serialise to JSON and compare
stably: ``int32``, ``int64``, ``float32``, ``float64``, ``bool``, ``string``, ``date``,
``timestamp`` (UTC, microseconds), ``decimal(p,s)`` and ``list<T>`` of any of those.
Pyarrow types are accepted on input and turned into the same strings.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from featurestore.errors import DefinitionError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["SCALAR_DTYPES", "canonical_dtype", "to_arrow_type"]

SCALAR_DTYPES = ("int32", "int64", "float32", "float64", "bool", "string", "date", "timestamp")
_ALIASES = {
    "int": "int64",
    "integer": "int64",
    "long": "int64",
    "float": "float64",
    "double": "float64",
    "boolean": "bool",
    "str": "string",
    "utf8": "string",
    "large_string": "string",
    "timestamptz": "timestamp",
    "datetime": "timestamp",
    "date32": "date",
}
_DECIMAL = re.compile(r"^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$")
_LIST = re.compile(r"^list\s*<(.+)>$")


def canonical_dtype(value: Any) -> str:
    """Return the canonical dtype string for a string or pyarrow type.

    Raises:
        DefinitionError: The dtype is not supported; the message lists the valid ones.

    Example:
        >>> canonical_dtype("Decimal(15, 2)"), canonical_dtype("list<int>")
        ('decimal(15,2)', 'list<int64>')
    """
    if isinstance(value, str):
        return _canonical_string(value)
    if type(value).__module__.startswith("pyarrow"):
        return _from_arrow(value)
    raise _unsupported(value)


def to_arrow_type(dtype: str) -> pa.DataType:
    """Return the Arrow type for a canonical dtype string.

    Example:
        >>> str(to_arrow_type("timestamp"))
        'timestamp[us, tz=UTC]'
    """
    import pyarrow as pa

    dtype = canonical_dtype(dtype)
    if match := _LIST.match(dtype):
        return pa.list_(to_arrow_type(match.group(1)))
    if match := _DECIMAL.match(dtype):
        return pa.decimal128(int(match.group(1)), int(match.group(2)))
    return {
        "int32": pa.int32(),
        "int64": pa.int64(),
        "float32": pa.float32(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
        "string": pa.large_string(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }[dtype]


def _canonical_string(text: str) -> str:
    lowered = text.strip().lower()
    if match := _LIST.match(lowered):
        return f"list<{_canonical_string(match.group(1))}>"
    if match := _DECIMAL.match(lowered):
        precision, scale = int(match.group(1)), int(match.group(2))
        if not 1 <= precision <= 38 or scale > precision:
            msg = (
                f"Invalid dtype {text!r}: decimal precision must be 1..38 and the scale at "
                "most the precision, e.g. 'decimal(15,2)'."
            )
            raise DefinitionError(msg)
        return f"decimal({precision},{scale})"
    lowered = _ALIASES.get(lowered, lowered)
    if lowered in SCALAR_DTYPES:
        return lowered
    raise _unsupported(text)


def _from_arrow(arrow_type: Any) -> str:
    import pyarrow as pa
    import pyarrow.types as pat

    if pat.is_list(arrow_type) or pat.is_large_list(arrow_type):
        return f"list<{_from_arrow(arrow_type.value_type)}>"
    if pat.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    if pat.is_timestamp(arrow_type):
        return "timestamp"
    if pat.is_date(arrow_type):
        return "date"
    if pat.is_string(arrow_type) or pat.is_large_string(arrow_type):
        return "string"
    simple = {
        pa.int8(): "int32",
        pa.int16(): "int32",
        pa.int32(): "int32",
        pa.int64(): "int64",
        pa.uint8(): "int32",
        pa.uint16(): "int32",
        pa.uint32(): "int64",
        pa.float16(): "float32",
        pa.float32(): "float32",
        pa.float64(): "float64",
        pa.bool_(): "bool",
    }
    if arrow_type in simple:
        return simple[arrow_type]
    raise _unsupported(arrow_type)


def _unsupported(value: Any) -> DefinitionError:
    valid = ", ".join(SCALAR_DTYPES) + ", decimal(p,s), list<T>"
    return DefinitionError(f"Unsupported dtype {value!r}. Valid dtypes: {valid}.")
