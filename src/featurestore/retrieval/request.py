"""Parsing and validating a point-in-time request: feature references, names, ``as_of``.

Feature references (one function parses them, :meth:`FeatureRef.parse`):

* ``"view:feature"`` one feature of a view;
* ``"view:*"`` every feature of the view, in definition order;
* ``"alias=view:feature"`` the view joined under ``alias`` (its own snapshot, its own output
  names ``alias__feature`` with ``full_feature_names=True``);
* ``"alias=view[view_key=entity_column,...]:feature"`` the same with a join-key map: the view's
  join key ``view_key`` is matched against the entity column ``entity_column``. This is how one
  view is joined twice, e.g. ``"origin=airport[airport_id=origin_id]:delay"`` and
  ``"dest=airport[airport_id=dest_id]:delay"``.

:func:`view_alias` builds the same strings from Python values.

``as_of`` values (see :func:`as_of_per_alias`): ``None`` (current snapshots), a datetime (the
snapshot current at that time; naive means UTC), an int (a snapshot ID; :data:`EMPTY_SNAPSHOT`
means "the table as it was before its first snapshot": empty), a str (a tag or branch), or a
mapping from view name or alias to one of those.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from featurestore._internal.identifiers import validate_identifier
from featurestore.errors import DefinitionError, RetrievalError

if TYPE_CHECKING:
    import pyarrow as pa

    from featurestore.registry.models import FeatureView

__all__ = [
    "EMPTY_SNAPSHOT",
    "RESERVED_PREFIX",
    "AsOfValue",
    "FeatureRef",
    "ViewLookup",
    "ViewRequest",
    "as_of_per_alias",
    "find_timestamp_column",
    "parse_feature_refs",
    "plan_views",
    "view_alias",
]

EMPTY_SNAPSHOT: Final = -1
"""A per-view ``as_of`` snapshot ID meaning "read the table as empty" (it had no snapshot yet).

A :class:`~featurestore.retrieval.training_set.ViewSnapshot` of such a view records
``snapshot_id=None``; reproduce it by passing ``EMPTY_SNAPSHOT`` for that alias.
"""

RESERVED_PREFIX: Final = "__fs_"
"""Column-name prefix used internally by the engine; entity columns may not use it."""

AsOfValue = datetime | int | str | None
PointInTime = Literal["event", "known"]

_REF = re.compile(
    r"^(?:(?P<alias>[^=\[\]:]+)=)?(?P<view>[^=\[\]:]+)(?:\[(?P<keys>[^\]]*)\])?:(?P<feature>[^:]+)$"
)


class ViewLookup(Protocol):
    """What retrieval needs from the registry (a :class:`RegistrySnapshot` satisfies it)."""

    snapshot_id: int | None

    def get_feature_view(self, name: str) -> FeatureView:
        """Return view ``name`` or raise ``NotFoundError`` with close names."""

    def join_keys(self, view_name: str) -> list[str]:
        """Return the join keys of view ``view_name``, in entity order."""


@dataclass(frozen=True)
class FeatureRef:
    """One parsed feature reference.

    Attributes:
        view: The feature view name.
        feature: The feature name, or ``"*"`` for all of them.
        alias: The name the view is joined under (default: the view name).
        key_map: ``(view_join_key, entity_column)`` pairs; unmapped keys match the entity
            column of the same name.

    Example:
        >>> ref = FeatureRef.parse("origin=airport[airport_id=origin_id]:delay")
        >>> ref.alias, ref.view, ref.feature, ref.key_map
        ('origin', 'airport', 'delay', (('airport_id', 'origin_id'),))
        >>> str(ref)
        'origin=airport[airport_id=origin_id]:delay'
    """

    view: str
    feature: str
    alias: str | None = None
    key_map: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        """The alias, or the view name when there is none."""
        return self.alias or self.view

    @classmethod
    def parse(cls, text: object) -> FeatureRef:
        """Parse one reference string (the only parser of the syntax).

        Raises:
            RetrievalError: The text is not a valid reference; the message shows the forms.
        """
        if isinstance(text, FeatureRef):
            return text
        match = _REF.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            msg = (
                f"Invalid feature reference {text!r}: use 'view:feature', 'view:*', "
                "'alias=view:feature' or 'alias=view[view_key=entity_column]:feature'."
            )
            raise RetrievalError(msg)
        try:
            return cls(
                view=validate_identifier(match["view"].strip(), what="feature view name"),
                feature=_feature_name(match["feature"].strip()),
                alias=_alias(match["alias"]),
                key_map=_key_map(match["keys"], str(text)),
            )
        except DefinitionError as exc:
            msg = f"Invalid feature reference {text!r}: {exc}"
            raise RetrievalError(msg) from None

    def __str__(self) -> str:
        text = f"{self.alias}=" if self.alias else ""
        text += self.view
        if self.key_map:
            text += "[" + ",".join(f"{k}={v}" for k, v in self.key_map) + "]"
        return f"{text}:{self.feature}"


def _feature_name(text: str) -> str:
    return text if text == "*" else validate_identifier(text, what="feature name")


def _alias(text: str | None) -> str | None:
    return None if text is None else validate_identifier(text.strip(), what="alias")


def _key_map(text: str | None, whole: str) -> tuple[tuple[str, str], ...]:
    if text is None:
        return ()
    pairs: list[tuple[str, str]] = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, column = item.partition("=")
        if not sep:
            msg = f"key map entry {item!r} in {whole!r} must read 'view_key=entity_column'"
            raise DefinitionError(msg)
        pairs.append(
            (
                validate_identifier(key.strip(), what="join key"),
                validate_identifier(column.strip(), what="entity column"),
            )
        )
    return tuple(sorted(pairs))


def view_alias(
    alias: str, view: str, features: Iterable[str], *, key_map: Mapping[str, str] | None = None
) -> list[str]:
    """Build references that join ``view`` under ``alias`` with a join-key map.

    Args:
        alias: The alias (also the output prefix with ``full_feature_names=True``).
        view: The registered feature view.
        features: Feature names (or ``"*"``).
        key_map: View join key -> entity column.

    Example:
        >>> view_alias("origin", "airport", ["delay"], key_map={"airport_id": "origin_id"})
        ['origin=airport[airport_id=origin_id]:delay']
    """
    pairs = tuple(sorted((key_map or {}).items()))
    return [str(FeatureRef.parse(str(FeatureRef(view, f, alias, pairs)))) for f in features]


def parse_feature_refs(features: Iterable[str | FeatureRef] | str) -> list[FeatureRef]:
    """Parse every reference; a single string is an error (it would be read char by char).

    Example:
        >>> [str(r) for r in parse_feature_refs(["user:spend", "user:*"])]
        ['user:spend', 'user:*']
    """
    if isinstance(features, str):
        msg = f"features must be a list of references, not the string {features!r}: wrap it."
        raise RetrievalError(msg)
    refs = [FeatureRef.parse(f) for f in features]
    if not refs:
        msg = "No features requested: pass at least one 'view:feature' reference."
        raise RetrievalError(msg)
    return refs


@dataclass
class ViewRequest:
    """One view joined under one alias, with its resolved definition.

    Attributes:
        alias: The join name (the view name when no alias was given).
        view: The feature view definition.
        view_keys: The view's join keys (columns of its table).
        entity_keys: The entity columns matched against ``view_keys``, position by position.
        features: Feature names, in request order, without duplicates.
        refs: The references as written (``view:*`` expanded).
        output_names: Output column of each feature.
    """

    alias: str
    view: FeatureView
    view_keys: list[str]
    entity_keys: list[str]
    features: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)
    output_names: list[str] = field(default_factory=list)
    key_map: tuple[tuple[str, str], ...] = ()


def plan_views(
    refs: list[FeatureRef], lookup: ViewLookup, *, full_feature_names: bool
) -> list[ViewRequest]:
    """Resolve references into one :class:`ViewRequest` per alias, in request order.

    Raises:
        NotFoundError: Unknown view or feature (with a "did you mean").
        RetrievalError: Inconsistent key maps, or two outputs with the same name.
    """
    requests: dict[str, ViewRequest] = {}
    for ref in refs:
        request = requests.get(ref.name)
        if request is None:
            request = requests[ref.name] = _new_request(ref, lookup)
        elif request.view.name != ref.view or request.key_map != ref.key_map:
            msg = (
                f"Alias {ref.name!r} is used for {str(ref)!r} and for another view or key map "
                f"({request.view.name!r}, {dict(request.key_map)}); give each join its own alias."
            )
            raise RetrievalError(msg)
        names = request.view.feature_names if ref.feature == "*" else [ref.feature]
        for name in names:
            request.view.feature(name)  # NotFoundError with a did-you-mean
            if name not in request.features:
                request.features.append(name)
                request.refs.append(str(FeatureRef(ref.view, name, ref.alias, ref.key_map)))
                prefix = f"{request.alias}__" if full_feature_names else ""
                request.output_names.append(prefix + name)
    _check_unique_outputs(list(requests.values()))
    return list(requests.values())


def _new_request(ref: FeatureRef, lookup: ViewLookup) -> ViewRequest:
    view = lookup.get_feature_view(ref.view)
    keys = list(lookup.join_keys(ref.view))
    mapping = dict(ref.key_map)
    unknown = sorted(set(mapping) - set(keys))
    if unknown:
        msg = (
            f"Key map of {str(ref)!r} names {unknown}, which are not join keys of view "
            f"{ref.view!r} (join keys: {keys})."
        )
        raise RetrievalError(msg)
    return ViewRequest(
        alias=ref.name,
        view=view,
        view_keys=keys,
        entity_keys=[mapping.get(k, k) for k in keys],
        key_map=ref.key_map,
    )


def _check_unique_outputs(requests: list[ViewRequest]) -> None:
    seen: dict[str, str] = {}
    for request in requests:
        for output, ref in zip(request.output_names, request.refs, strict=True):
            if output in seen:
                msg = (
                    f"Output column {output!r} would be produced by both {seen[output]!r} and "
                    f"{ref!r}. Pass full_feature_names=True, or join one view under an alias."
                )
                raise RetrievalError(msg)
            seen[output] = ref


def check_entity_columns(
    schema: pa.Schema, requests: list[ViewRequest], timestamp_column: str
) -> None:
    """Check join-key presence, reserved names and output collisions with entity columns.

    Raises:
        RetrievalError: The first problem found, naming the columns involved.
    """
    names = list(schema.names)
    reserved = [n for n in names if n.startswith(RESERVED_PREFIX)]
    if reserved:
        msg = f"Entity columns {reserved} use the reserved prefix {RESERVED_PREFIX!r}; rename them."
        raise RetrievalError(msg)
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        msg = f"Entity columns {duplicated} appear more than once; rename them."
        raise RetrievalError(msg)
    for request in requests:
        missing = [k for k in request.entity_keys if k not in names]
        if missing:
            msg = (
                f"The entity rows lack join key column(s) {missing} needed by view "
                f"{request.alias!r} (entity columns: {names}). Add them, or map the view's "
                f"keys with 'alias=view[key=column]:feature'."
            )
            raise RetrievalError(msg)
        clash = sorted(set(request.output_names) & set(names))
        if clash:
            msg = (
                f"Feature output column(s) {clash} of view {request.alias!r} collide with entity "
                "columns; pass full_feature_names=True or rename the entity columns."
            )
            raise RetrievalError(msg)
    if timestamp_column in {o for r in requests for o in r.output_names}:
        msg = f"A feature output column is named like the timestamp column {timestamp_column!r}."
        raise RetrievalError(msg)


def find_timestamp_column(schema: pa.Schema, requested: str | None) -> str:
    """Pick the entity timestamp column.

    ``requested`` if given, else ``event_timestamp``, else the only timestamp column.

    Raises:
        RetrievalError: Missing or ambiguous; the message lists the candidates.

    Example:
        >>> import pyarrow as pa
        >>> find_timestamp_column(pa.schema([("id", pa.int64()), ("ts", pa.timestamp("us"))]), None)
        'ts'
    """
    import pyarrow.types as pat

    candidates = [f.name for f in schema if pat.is_timestamp(f.type)]
    if requested is not None:
        if requested not in schema.names:
            msg = (
                f"Timestamp column {requested!r} is not an entity column. "
                f"Timestamp columns: {candidates}; all columns: {schema.names}."
            )
            raise RetrievalError(msg)
        if requested not in candidates:
            msg = (
                f"Entity column {requested!r} has type {schema.field(requested).type}, not a "
                f"timestamp. Convert it (e.g. pd.to_datetime) or pick one of {candidates}."
            )
            raise RetrievalError(msg)
        return requested
    if "event_timestamp" in candidates:
        return "event_timestamp"
    if len(candidates) == 1:
        return str(candidates[0])
    if not candidates:
        msg = (
            f"The entity rows have no timestamp column (columns: {schema.names}). Add an "
            "'event_timestamp' column of timestamps."
        )
    else:
        msg = (
            f"The entity rows have several timestamp columns {candidates} and none is named "
            "'event_timestamp'; choose one with timestamp_column=..."
        )
    raise RetrievalError(msg)


def as_of_per_alias(as_of: Any, requests: list[ViewRequest]) -> dict[str, AsOfValue]:
    """Spread ``as_of`` over the aliases: an alias key wins over its view name key.

    Raises:
        RetrievalError: A mapping key that is neither a requested alias nor a view name, or a
            value of an unsupported type.

    Example:
        >>> as_of_per_alias(None, [])
        {}
    """
    if not isinstance(as_of, Mapping):
        _check_as_of_value(as_of, "as_of")
        return {r.alias: as_of for r in requests}
    known = {r.alias for r in requests} | {r.view.name for r in requests}
    unknown = sorted(str(k) for k in as_of if k not in known)
    if unknown:
        msg = (
            f"as_of names {unknown}, which are not requested views or aliases "
            f"(valid: {sorted(known)})."
        )
        raise RetrievalError(msg)
    result: dict[str, AsOfValue] = {}
    for request in requests:
        value = as_of.get(request.alias, as_of.get(request.view.name))
        _check_as_of_value(value, f"as_of[{request.alias!r}]")
        result[request.alias] = value
    return result


def _check_as_of_value(value: object, what: str) -> None:
    if value is None or isinstance(value, datetime | str):
        return
    if isinstance(value, int) and not isinstance(value, bool):
        return
    msg = (
        f"Invalid {what} {value!r}: use None, a datetime, a snapshot ID (int), a tag or branch "
        "name (str), or a mapping from view/alias to one of those."
    )
    raise RetrievalError(msg)
