""":class:`RegistrySnapshot`: an immutable read view of the registry at one snapshot."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, TypeVar

from pydantic import ValidationError

from featurestore.errors import DefinitionError, NotFoundError
from featurestore.registry.models import Entity, FeatureView, view_join_keys

if TYPE_CHECKING:
    from featurestore.registry.storage import Kind, RegistryRow

__all__ = ["RegistrySnapshot", "latest_rows"]

M = TypeVar("M", Entity, FeatureView)


def latest_rows(rows: Iterable[RegistryRow]) -> dict[tuple[Kind, str], RegistryRow]:
    """The newest version of every ``(kind, name)``, tombstones included."""
    latest: dict[tuple[Kind, str], RegistryRow] = {}
    for row in rows:
        known = latest.get(row.key)
        if known is None or row.version > known.version:
            latest[row.key] = row
    return latest


class RegistrySnapshot:
    """The registry as it was at one registry-table snapshot; it never changes.

    Attributes:
        snapshot_id: The registry table snapshot (``None``: the registry was still empty).

    Example:
        >>> snap = RegistrySnapshot(None, [])
        >>> snap.list_feature_views(), snap.snapshot_id
        ([], None)
    """

    def __init__(self, snapshot_id: int | None, rows: Iterable[RegistryRow]) -> None:
        self.snapshot_id = snapshot_id
        self._latest = latest_rows(rows)
        self._entities: dict[str, Entity] = {}
        self._views: dict[str, FeatureView] = {}
        # a stored row that no longer validates (written by another version) spoils only its
        # own object: reading it raises, listing skips it, apply replaces it, delete removes it
        self._broken: dict[tuple[Kind, str], DefinitionError] = {}
        for (kind, name), row in sorted(self._latest.items()):
            if row.deleted:
                continue
            try:
                if kind == "entity":
                    self._entities[name] = _parse(Entity, row)
                else:
                    self._views[name] = _parse(FeatureView, row)
            except DefinitionError as exc:
                self._broken[(kind, name)] = exc

    def __repr__(self) -> str:
        return (
            f"RegistrySnapshot(snapshot_id={self.snapshot_id!r}, "
            f"entities={len(self._entities)}, feature_views={len(self._views)})"
        )

    @property
    def latest(self) -> Mapping[tuple[Kind, str], RegistryRow]:
        """The newest stored row of every object, tombstones included."""
        return self._latest

    def version(self, kind: Kind, name: str) -> int | None:
        """The current version of a live object, or ``None`` if it is unknown or deleted."""
        row = self._latest.get((kind, name))
        return None if row is None or row.deleted else row.version

    def get_entity(self, name: str) -> Entity:
        """Return entity ``name``.

        Raises:
            NotFoundError: Unknown entity; the message suggests the closest name.
        """
        if ("entity", name) in self._broken:
            raise self._broken[("entity", name)]
        try:
            return self._entities[name]
        except KeyError:
            kind = "entity"
            raise NotFoundError(kind, name, candidates=self._entities) from None

    def get_feature_view(self, name: str) -> FeatureView:
        """Return feature view ``name``.

        Raises:
            NotFoundError: Unknown view; ``Did you mean 'driver_stats'?``.
            DefinitionError: Its stored definition no longer validates (re-apply it).
        """
        if ("feature_view", name) in self._broken:
            raise self._broken[("feature_view", name)]
        try:
            return self._views[name]
        except KeyError:
            hint = None if self._views else "No feature views are registered; run store.apply()."
            kind = "feature view"
            raise NotFoundError(kind, name, candidates=self._views, hint=hint) from None

    def list_entities(self) -> list[Entity]:
        """Every entity, sorted by name."""
        return list(self._entities.values())

    def list_feature_views(
        self, *, owner: str | None = None, tag: str | Mapping[str, str] | None = None
    ) -> list[FeatureView]:
        """Feature views sorted by name, optionally only those of ``owner`` / with ``tag``.

        Args:
            owner: Keep views whose owner is exactly this.
            tag: A tag key the view must have, or key/value pairs it must all have.
        """
        views = list(self._views.values())
        if owner is not None:
            views = [v for v in views if v.owner == owner]
        if isinstance(tag, str):
            views = [v for v in views if tag in v.tags]
        elif tag is not None:
            views = [v for v in views if all(v.tags.get(k) == val for k, val in tag.items())]
        return views

    def join_keys(self, view_name: str) -> list[str]:
        """The join keys of a view, resolved through its entities, in entity order.

        Raises:
            NotFoundError: Unknown view, or an entity it names is not in this snapshot.
        """
        view = self.get_feature_view(view_name)
        entities = {name: self.get_entity(name) for name in view.entities}
        return view_join_keys(view, entities)

    def search(self, text: str) -> list[Entity | FeatureView]:
        """Definitions whose name, description, owner, features or tags contain ``text``.

        The match ignores case; entities come first, then views, each sorted by name.
        """
        needle = text.casefold()
        found: list[Entity | FeatureView] = []
        objects: list[Entity | FeatureView] = [*self._entities.values(), *self._views.values()]
        for obj in objects:
            if any(needle in hay.casefold() for hay in _haystack(obj)):
                found.append(obj)
        return found


def _haystack(obj: Entity | FeatureView) -> list[str]:
    texts = [obj.name, obj.description or ""]
    texts += [f"{k}={v}" for k, v in obj.tags.items()]
    if isinstance(obj, FeatureView):
        texts += [obj.owner or "", obj.table]
        for feature in obj.features:
            texts += [feature.name, feature.description or ""]
            texts += [f"{k}={v}" for k, v in feature.tags.items()]
    return texts


def _parse(model: type[M], row: RegistryRow) -> M:
    try:
        return model.model_validate_json(row.definition)
    except (ValidationError, DefinitionError) as exc:
        msg = (
            f"Stored definition of {row.kind} {row.name!r} version {row.version} no longer "
            f"validates ({exc}). Re-apply a corrected definition of {row.name!r}."
        )
        raise DefinitionError(msg) from exc
