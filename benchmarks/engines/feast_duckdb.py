"""Feast 0.67 with its ``duckdb`` offline store, over the Parquet copy of the data.

Runs under Feast's own interpreter (``scripts/setup-feast-venv.sh``). The feature view has
the same ``created`` tie-break column and TTL as ours. The fixed overhead is import + apply
(Feast's registry); the join phase is ``get_historical_features(...).to_arrow()``.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta

from _child import Timeline, finish, parse_args


def build_store(meta: dict, repo: str):  # type: ignore[no-untyped-def]
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
    from feast.repo_config import RepoConfig
    from feast.types import Float64

    config = RepoConfig(
        project="bench",
        provider="local",
        registry=f"{repo}/registry.db",
        offline_store={"type": "duckdb"},
        online_store={"type": "sqlite", "path": f"{repo}/online.db"},
        entity_key_serialization_version=3,
        repo_path=repo,
    )
    store = FeatureStore(config=config)
    user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
    source = FileSource(
        name="user_stats_source",
        path=meta["features_parquet"],
        timestamp_field="event_timestamp",
        created_timestamp_column="created",
    )
    ttl = meta.get("ttl_seconds")
    view = FeatureView(
        name=meta["view"],
        entities=[user],
        ttl=timedelta(seconds=ttl) if ttl else timedelta(0),
        schema=[Field(name=name, dtype=Float64) for name in meta["feature_names"]],
        source=source,
    )
    store.apply([user, view])
    return store


def main() -> None:
    timeline = Timeline()
    meta, out = parse_args()
    import feast
    import pandas as pd

    timeline.mark("imported")
    repo = tempfile.mkdtemp(prefix="feast-repo-", dir=meta["work"])
    store = build_store(meta, repo)
    timeline.mark("connected")
    entity_df = pd.read_parquet(meta["entities_parquet"])
    refs = [f"{meta['view']}:{name}" for name in meta["feature_names"]]
    timeline.mark("warm_start")  # the same call for one entity row (every engine warms up)
    store.get_historical_features(entity_df=entity_df.head(1), features=refs).to_arrow()
    timeline.mark("warm_end")
    timeline.mark("join_start")
    table = store.get_historical_features(entity_df=entity_df, features=refs).to_arrow()
    timeline.mark("join_end")
    finish(out, table, timeline, engine="feast", feast_version=feast.__version__)


if __name__ == "__main__":
    main()
