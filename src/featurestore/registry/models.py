"""Definitions: :class:`Entity`, :class:`Feature` and :class:`FeatureView`.

They are frozen pydantic models with unknown fields forbidden; each validates itself on
construction. Checks that need the whole set of definitions (an unknown entity, a join key
that collides with a feature) live in :func:`validate_definitions`, which ``store.apply``
runs before anything is written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from featurestore._internal.identifiers import split_table_name, validate_identifier
from featurestore.errors import DefinitionError
from featurestore.registry.dtypes import canonical_dtype

__all__ = [
    "Definition",
    "DefinitionModel",
    "Entity",
    "Feature",
    "FeatureView",
    "validate_definitions",
]

INGESTED_AT = "_ingested_at"
"""The system column every write of the store stamps (timestamptz)."""

DType = Annotated[str, BeforeValidator(canonical_dtype)]


class DefinitionModel(BaseModel):
    """Base of every definition: frozen, unknown fields forbidden.

    Constructing one with bad values raises :class:`DefinitionError` (never pydantic's
    ``ValidationError``), listing every problem.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=False)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise definition_error(type(self).__name__, exc) from None

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        """Validate ``obj`` (a mapping) into a definition; :class:`DefinitionError` if invalid."""
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as exc:
            raise definition_error(cls.__name__, exc) from None

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Self:
        """Validate JSON into a definition; :class:`DefinitionError` if invalid."""
        try:
            return super().model_validate_json(json_data, **kwargs)
        except ValidationError as exc:
            raise definition_error(cls.__name__, exc) from None

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with ``update`` applied, validated like a new definition (unlike pydantic's)."""
        copied = super().model_copy(deep=deep)
        if not update:
            return copied
        return type(self).model_validate({**copied.model_dump(), **update})


def definition_error(what: str, exc: ValidationError) -> DefinitionError:
    """Turn pydantic's ValidationError into one DefinitionError that lists every problem.

    Example:
        >>> try:
        ...     Feature(name="x", dtype="complex")
        ... except DefinitionError as err:
        ...     print(str(err).split(".")[0])
        Unsupported dtype 'complex'
    """
    problems: list[str] = []
    for error in exc.errors():
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, DefinitionError):
            problems.append(str(cause))
            continue
        where = ".".join(str(p) for p in error["loc"])
        given = f" (got {error['input']!r})" if "input" in error and where else ""
        problems.append(f"{where or what}: {error['msg']}{given}")
    if len(problems) == 1 and problems[0].endswith("."):
        return DefinitionError(problems[0])
    return DefinitionError(f"Invalid {what}: " + "; ".join(p.rstrip(".") for p in problems) + ".")


def _identifier(what: str) -> Any:
    return BeforeValidator(lambda v: validate_identifier(v, what=what))


def _unique(values: Sequence[str], what: str, owner: str) -> None:
    duplicates = sorted(name for name, count in Counter(values).items() if count > 1)
    if duplicates:
        msg = f"{owner}: duplicate {what} {', '.join(map(repr, duplicates))}."
        raise DefinitionError(msg)


class Entity(DefinitionModel):
    """A thing features describe (a user, a card, an airport), identified by its join keys.

    Attributes:
        name: Unique name of the entity.
        join_keys: Columns that identify one instance; defaults to ``[name]``.
        key_dtypes: Optional dtypes of the join keys; keys not listed take the type of
            the data at the first write.
        description: Free text.
        tags: Free key/value labels.

    Example:
        >>> Entity(name="user", join_keys=["user_id"]).join_keys
        ['user_id']
    """

    kind: Literal["entity"] = "entity"
    name: Annotated[str, _identifier("entity name")]
    join_keys: list[Annotated[str, _identifier("join key")]] = Field(default_factory=list)
    key_dtypes: dict[str, DType] = Field(default_factory=dict)
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Entity:
        if not self.join_keys:
            object.__setattr__(self, "join_keys", [self.name])
        _unique(self.join_keys, "join keys", f"Entity {self.name!r}")
        unknown = sorted(set(self.key_dtypes) - set(self.join_keys))
        if unknown:
            msg = (
                f"Entity {self.name!r}: key_dtypes names {unknown}, which are not join keys "
                f"(join keys: {self.join_keys})."
            )
            raise DefinitionError(msg)
        lists = sorted(k for k, dtype in self.key_dtypes.items() if dtype.startswith("list<"))
        if lists:
            msg = (
                f"Entity {self.name!r}: join keys {lists} have list dtypes; a join key has one "
                "value per row (int32, int64, string, bool, date, timestamp, decimal, float)."
            )
            raise DefinitionError(msg)
        return self


class Feature(DefinitionModel):
    """One feature column of a feature view.

    Attributes:
        name: Column name of the feature.
        dtype: ``int32``, ``int64``, ``float32``, ``float64``, ``bool``, ``string``, ``date``,
            ``timestamp``, ``decimal(p,s)``, ``list<T>``, or a pyarrow type.
        description: Free text.
        tags: Free key/value labels.

    Example:
        >>> Feature(name="spend_7d", dtype="double").dtype
        'float64'
    """

    name: Annotated[str, _identifier("feature name")]
    dtype: DType
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class FeatureView(DefinitionModel):
    """A group of features stored in one Iceberg table, keyed by entities and event time.

    Attributes:
        name: Unique name of the view; features are referenced as ``"name:feature"``.
        entities: Names of the entities whose join keys key the table.
        table: Iceberg table, ``"namespace.table"``.
        timestamp_field: Event-time column (when the value became true).
        created_timestamp_field: Optional column that breaks ties between rows with the
            same event time (the greatest wins).
        features: The feature columns.
        ttl: How old a value may be and still be served; ``None`` means no limit.
        owner: Who answers for the view.
        description: Free text.
        tags: Free key/value labels.
        field_mapping: Renames applied to written data: source column -> column name.
        partition_granularity: Partition transform of a table the store creates
            (``None``: the store's default).

    Example:
        >>> view = FeatureView(
        ...     name="user_spend", entities=["user"], table="features.user_spend",
        ...     features=[Feature(name="spend_7d", dtype="float64")], ttl=timedelta(days=7))
        >>> view.feature_names
        ['spend_7d']
    """

    kind: Literal["batch"] = "batch"
    name: Annotated[str, _identifier("feature view name")]
    entities: list[Annotated[str, _identifier("entity name")]]
    table: str
    timestamp_field: Annotated[str, _identifier("timestamp field")] = "event_timestamp"
    created_timestamp_field: Annotated[str, _identifier("created timestamp field")] | None = None
    features: list[Feature]
    ttl: timedelta | None = None
    owner: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    field_mapping: dict[str, str] = Field(default_factory=dict)
    partition_granularity: Literal["day", "month"] | None = None

    @field_validator("table")
    @classmethod
    def _check_table(cls, value: str) -> str:
        split_table_name(value)
        return value

    @field_validator("ttl")
    @classmethod
    def _check_ttl(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            msg = f"Invalid ttl {value!r}: it must be positive, or None for no limit."
            raise DefinitionError(msg)
        return value

    @model_validator(mode="after")
    def _check(self) -> FeatureView:
        owner = f"Feature view {self.name!r}"
        if not self.entities:
            msg = f"{owner}: give at least one entity (entities=[...])."
            raise DefinitionError(msg)
        if not self.features:
            msg = f"{owner}: give at least one feature (features=[Feature(...)])."
            raise DefinitionError(msg)
        _unique(self.entities, "entities", owner)
        _unique(self.feature_names, "feature names", owner)
        if self.created_timestamp_field == self.timestamp_field:
            msg = (
                f"{owner}: created_timestamp_field and timestamp_field are both "
                f"{self.timestamp_field!r}; the created timestamp must be another column."
            )
            raise DefinitionError(msg)
        if INGESTED_AT in (self.timestamp_field, self.created_timestamp_field):
            msg = f"{owner}: {INGESTED_AT!r} is the store's system column; use another column."
            raise DefinitionError(msg)
        reserved = {self.timestamp_field, self.created_timestamp_field, INGESTED_AT}
        clash = sorted(set(self.feature_names) & reserved)
        if clash:
            msg = f"{owner}: feature names {clash} collide with its timestamp/system columns."
            raise DefinitionError(msg)
        for source, target in self.field_mapping.items():
            validate_identifier(source, what="field_mapping source column")
            validate_identifier(target, what="field_mapping target column")
        return self

    @property
    def feature_names(self) -> list[str]:
        """Names of the view's features, in definition order."""
        return [f.name for f in self.features]

    def feature(self, name: str) -> Feature:
        """Return the feature called ``name``.

        Raises:
            NotFoundError: No such feature; the message suggests the closest name.
        """
        from featurestore.errors import NotFoundError

        for feature in self.features:
            if feature.name == name:
                return feature
        kind = "feature"
        raise NotFoundError(kind, name, candidates=self.feature_names, scope=f"view {self.name!r}")


Definition = Annotated[Entity | FeatureView, Field(discriminator="kind")]
"""Any registry object, discriminated by its ``kind``."""


def view_join_keys(view: FeatureView, entities: dict[str, Entity]) -> list[str]:
    """Join keys of ``view``, in entity order, resolved through ``entities``."""
    keys: list[str] = []
    for name in view.entities:
        keys.extend(k for k in entities[name].join_keys if k not in keys)
    return keys


def validate_definitions(objects: Iterable[Entity | FeatureView]) -> None:
    """Check a complete set of definitions for consistency.

    Raises:
        DefinitionError: Duplicate names, unknown entity references, or join keys that
            collide with feature or timestamp names; every problem is listed.

    Example:
        >>> validate_definitions([Entity(name="user")])
    """
    objects = list(objects)
    entities = {o.name: o for o in objects if isinstance(o, Entity)}
    views = [o for o in objects if isinstance(o, FeatureView)]
    problems: list[str] = []
    for kind, names in (
        ("entity", [o.name for o in objects if isinstance(o, Entity)]),
        ("feature view", [v.name for v in views]),
    ):
        dup = sorted(n for n, c in Counter(names).items() if c > 1)
        if dup:
            problems.append(f"{kind} names defined twice with different content: {dup}")
    for view in views:
        missing = [e for e in view.entities if e not in entities]
        if missing:
            problems.append(
                f"feature view {view.name!r} uses unknown entities {missing} "
                f"(known: {sorted(entities)})"
            )
            continue
        keys = view_join_keys(view, entities)
        taken = {view.timestamp_field, view.created_timestamp_field, INGESTED_AT}
        clash = sorted(set(keys) & (set(view.feature_names) | taken))
        if clash:
            problems.append(
                f"feature view {view.name!r}: join keys {clash} collide with its "
                "feature, timestamp or system column names"
            )
    if problems:
        msg = "Invalid definitions: " + "; ".join(problems) + "."
        raise DefinitionError(msg)
