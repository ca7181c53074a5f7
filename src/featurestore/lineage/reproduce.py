"""Rebuilding a logged training set, and protecting the snapshots that rebuild needs.

Reproduction reads every input at the snapshot the run recorded: the entity set table, each
feature table (per alias; an empty table stays empty), and the registry (so a later
definition of the same view, e.g. another TTL or an added feature, does not change the
result). The rebuilt training set must have the recorded row count, columns and content hash,
or :class:`~featurestore.errors.ReproducibilityError` says which of them differ.

Protection tags each of those snapshots with ``fs-model:<model>:<version>``; Iceberg snapshot
expiry never removes a snapshot a tag points to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from featurestore.catalog import translate_errors
from featurestore.errors import ReproducibilityError
from featurestore.lineage.entity_sets import read_entity_set, snapshot_gone

if TYPE_CHECKING:
    from featurestore.lineage.models import ModelRun
    from featurestore.retrieval.training_set import TrainingSet
    from featurestore.store import FeatureStore

__all__ = ["protect", "required_snapshots", "reproduce"]


def required_snapshots(store: FeatureStore, run: ModelRun) -> list[tuple[str, int, str]]:
    """Every ``(table, snapshot_id, purpose)`` a rebuild of ``run`` reads, without duplicates.

    Example:
        >>> required_snapshots(None, run)  # doctest: +SKIP
        [('fs.entity_set__churn__v3__1a2b', 42, 'entity set'), ...]
    """
    needed: dict[tuple[str, int], str] = {}
    if run.entity_snapshot_id is not None:
        needed[(run.entity_table, run.entity_snapshot_id)] = "entity set"
    for view in run.views:
        if view.snapshot_id is not None:
            needed.setdefault((view.table, view.snapshot_id), f"feature view {view.alias!r}")
    if run.registry_snapshot_id is not None:
        key = (store.system_table_name("registry"), run.registry_snapshot_id)
        needed.setdefault(key, "registry")
    return [(table, snapshot, purpose) for (table, snapshot), purpose in needed.items()]


def reproduce(store: FeatureStore, run: ModelRun) -> TrainingSet:
    """Rebuild ``run``'s training set from its recorded snapshots and verify it.

    Raises:
        NotFoundError: A table the run needs was dropped.
        SnapshotNotFoundError: A snapshot the run needs was expired (``.table``,
            ``.snapshot_id``); protect runs with ``store.protect_model_run``.
        ReproducibilityError: The rebuilt data differs (row count, columns or content hash).
    """
    from featurestore.retrieval.engine import get_historical_features
    from featurestore.retrieval.request import EMPTY_SNAPSHOT

    for table_name, snapshot_id, _ in required_snapshots(store, run):
        table = store.load_table(table_name)
        if table.snapshot_by_id(snapshot_id) is None:
            raise snapshot_gone(table_name, snapshot_id)
    entities = read_entity_set(store, run.entity_table, run.entity_snapshot_id)
    as_of = {
        v.alias: v.snapshot_id if v.snapshot_id is not None else EMPTY_SNAPSHOT for v in run.views
    }
    registry = (
        store.registry(as_of=run.registry_snapshot_id)
        if run.registry_snapshot_id is not None
        else None
    )
    rebuilt = get_historical_features(
        store,
        entities,
        list(run.feature_refs),
        full_feature_names=run.full_feature_names,
        as_of=as_of,
        point_in_time=run.point_in_time,
        timestamp_column=run.timestamp_column,
        registry=registry,
        schema_ids={v.alias: v.schema_id for v in run.views},
    )
    verify(run, rebuilt)
    return rebuilt


def verify(run: ModelRun, rebuilt: TrainingSet) -> None:
    """Check ``rebuilt`` against what ``run`` recorded.

    Raises:
        ReproducibilityError: Lists every difference: row count, columns, content hash.
    """
    problems: list[str] = []
    if rebuilt.num_rows != run.row_count:
        problems.append(f"row count {rebuilt.num_rows} != recorded {run.row_count}")
    columns = tuple(rebuilt.to_arrow().column_names)
    if columns != run.output_columns:
        missing = [c for c in run.output_columns if c not in columns]
        extra = [c for c in columns if c not in run.output_columns]
        detail = f"missing {missing}, extra {extra}" if missing or extra else "order differs"
        problems.append(f"columns differ ({detail})")
    digest = rebuilt.content_hash()
    if digest != run.content_hash:
        problems.append(f"content hash {digest} != recorded {run.content_hash}")
    if problems:
        msg = (
            f"Training set of model {run.model!r} version {run.version!r} was not reproduced: "
            + "; ".join(problems)
            + ". The recorded snapshots were read, so the store or its data files changed "
            "underneath (e.g. files rewritten in place); report this."
        )
        raise ReproducibilityError(msg)


def protect(store: FeatureStore, run: ModelRun) -> dict[str, str]:
    """Tag every snapshot ``run`` needs so that snapshot expiry keeps it.

    Idempotent: a tag that already points at the right snapshot is kept. Tables whose
    snapshot was already expired raise before anything is tagged.

    Returns:
        Table name -> tag name (``table@alias`` keys when one table is needed at two snapshots).

    Raises:
        SnapshotNotFoundError: A needed snapshot is already gone; nothing can protect it now.
        CatalogError: A tag of that name exists on another snapshot.
    """
    needed = required_snapshots(store, run)
    tables: dict[str, Any] = {}
    for table_name, snapshot_id, _ in needed:
        table = tables.get(table_name) or store.load_table(table_name)
        tables[table_name] = table
        if table.snapshot_by_id(snapshot_id) is None:
            raise snapshot_gone(table_name, snapshot_id)
    counts: dict[str, int] = {}
    for table_name, _, _ in needed:
        counts[table_name] = counts.get(table_name, 0) + 1
    result: dict[str, str] = {}
    for table_name, snapshot_id, purpose in needed:
        tag = run.protection_tag
        key = table_name
        if counts[table_name] > 1:
            suffix = purpose.split("'")[1] if "'" in purpose else purpose.replace(" ", "-")
            tag, key = f"{tag}-{suffix}", f"{table_name}@{suffix}"
        _tag(tables[table_name], snapshot_id, tag)
        result[key] = tag
    return result


def _tag(table: Any, snapshot_id: int, tag: str) -> None:
    from featurestore.errors import CatalogError

    existing = table.metadata.refs.get(tag)
    if existing is not None:
        if existing.snapshot_id == snapshot_id:
            return
        msg = (
            f"Table {'.'.join(table.name())!r} already has tag {tag!r} on snapshot "
            f"{existing.snapshot_id}, not {snapshot_id}. Remove that tag (it was not made "
            "for this run) and retry."
        )
        raise CatalogError(msg)
    with translate_errors(f"tagging snapshot {snapshot_id} of {'.'.join(table.name())!r}"):
        table.manage_snapshots().create_tag(snapshot_id, tag).commit()
