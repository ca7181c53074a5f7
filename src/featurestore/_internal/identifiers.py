"""Validation and quoting of identifiers (names of views, features, tables, columns).

Names end up in SQL, in Iceberg table identifiers and in file paths, so only a safe subset
is accepted: a letter or underscore, then letters, digits and underscores, at most 128 chars.
"""

from __future__ import annotations

import re

from featurestore.errors import DefinitionError

__all__ = ["quote_ident", "split_table_name", "validate_identifier"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def validate_identifier(name: object, *, what: str = "name") -> str:
    """Return ``name`` if it is a safe identifier, else raise :class:`DefinitionError`.

    Example:
        >>> validate_identifier("user_id")
        'user_id'
    """
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        msg = (
            f"Invalid {what} {name!r}: use a letter or underscore followed by letters, "
            "digits or underscores (at most 128 characters)."
        )
        raise DefinitionError(msg)
    return name


def split_table_name(name: str) -> tuple[str, str]:
    """Split ``"namespace.table"`` (namespace may be dotted) into its two parts, validated.

    Example:
        >>> split_table_name("features.user_spend")
        ('features', 'user_spend')
    """
    if not isinstance(name, str) or "." not in name:
        msg = (
            f"Invalid table name {name!r}: expected 'namespace.table', e.g. 'features.user_spend'."
        )
        raise DefinitionError(msg)
    namespace, _, table = name.rpartition(".")
    for part in namespace.split("."):
        validate_identifier(part, what="namespace")
    validate_identifier(table, what="table name")
    return namespace, table


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB SQL.

    Example:
        >>> quote_ident('a"b')
        '"a""b"'
    """
    return '"' + name.replace('"', '""') + '"'
