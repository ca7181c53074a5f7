"""Log a model run, change the feature data and definitions, and rebuild the exact training set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest

from featurestore import Entity, Feature, FeatureView
from featurestore.errors import AlreadyExistsError

if TYPE_CHECKING:
    from featurestore.lineage.models import ModelRun
    from featurestore.retrieval.training_set import TrainingSet
    from featurestore.store import FeatureStore

USER = Entity(name="user", join_keys=["user_id"])


def day(d: int, hour: int = 0) -> datetime:
    return datetime(2024, 1, d, hour, tzinfo=UTC)


def spend_view(ns: str, **changes: Any) -> FeatureView:
    values: dict[str, Any] = {
        "name": "spend",
        "entities": ["user"],
        "table": f"{ns}.spend",
        "features": [Feature(name="amount", dtype="float64"), Feature(name="n", dtype="int64")],
        "ttl": timedelta(days=10),
    }
    values.update(changes)
    return FeatureView(**values)


def spend_rows(*items: tuple[int, datetime, float, int], extra: bool = False) -> pa.Table:
    data: dict[str, Any] = {
        "user_id": pa.array([i[0] for i in items], pa.int64()),
        "event_timestamp": pa.array([i[1] for i in items], pa.timestamp("us", "UTC")),
        "amount": pa.array([i[2] for i in items], pa.float64()),
        "n": pa.array([i[3] for i in items], pa.int64()),
    }
    if extra:
        data["avg"] = pa.array([i[2] / max(i[3], 1) for i in items], pa.float64())
    return pa.table(data)


def entities() -> pa.Table:
    return pa.table(
        {
            "user_id": pa.array([1, 2, 1, 3, 2], pa.int64()),
            "event_timestamp": pa.array(
                [day(5), day(6), day(9), day(9), day(20)], pa.timestamp("us", "UTC")
            ),
            "label": pa.array([1, 0, None, 1, 0], pa.int32()),
            "note": pa.array(["a", "b", None, "d", "e"], pa.string()),
        }
    )


@pytest.fixture
def logged(store: FeatureStore, feature_ns: str) -> tuple[TrainingSet, ModelRun]:
    store.apply([USER, spend_view(feature_ns)])
    store.write(
        "spend", spend_rows((1, day(1), 10.0, 1), (2, day(2), 20.0, 2), (1, day(8), 5.0, 3))
    )
    training = store.get_historical_features(entities(), ["spend:*"])
    run = store.log_model_run("churn", 1, training, params={"lr": 0.1}, metrics={"auc": 0.8})
    return training, run


def assert_reproduces(store: FeatureStore, training: TrainingSet, run: ModelRun) -> None:
    current = store.get_historical_features(entities(), ["spend:*"])
    assert current.content_hash() != run.content_hash, "the change must matter today"
    rebuilt = store.reproduce_training_set("churn", "1")
    assert rebuilt.content_hash() == run.content_hash == training.content_hash()
    assert rebuilt.to_arrow().equals(training.to_arrow())


def test_log_records_the_lineage(store: FeatureStore, logged: tuple[Any, Any]) -> None:
    training, run = logged
    assert run.key == ("churn", "1")
    assert run.row_count == 5
    assert run.content_hash == training.content_hash()
    assert run.feature_refs == tuple(training.feature_refs)
    assert run.snapshot_ids == {"spend": training.views[0].snapshot_id}
    assert run.views[0].feature_names == ("amount", "n")
    assert run.views[0].schema_id is not None
    assert run.registry_snapshot_id == training.registry_snapshot_id is not None
    assert run.training_window_start == day(5)
    assert run.training_window_end == day(20)
    assert run.entity_columns == ("user_id", "event_timestamp", "label", "note")
    assert run.output_columns == tuple(training.to_arrow().column_names)
    assert run.params == {"lr": 0.1}
    assert run.metrics == {"auc": 0.8}
    assert run.trained_at.tzinfo is not None
    assert store.get_model_run("churn", "1") == run
    entity_table = store.load_table(run.entity_table)
    assert entity_table.properties["featurestore.model"] == "churn"


def test_reproduce_without_changes(store: FeatureStore, logged: tuple[Any, Any]) -> None:
    training, run = logged
    rebuilt = store.reproduce_training_set("churn", 1)
    assert rebuilt.content_hash() == run.content_hash
    assert rebuilt.to_arrow().equals(training.to_arrow())
    assert rebuilt.entity_frame().equals(entities())


def test_reproduce_after_append(store: FeatureStore, logged: tuple[Any, Any]) -> None:
    store.write("spend", spend_rows((3, day(7), 99.0, 9), (2, day(19), 1.0, 1)))
    assert_reproduces(store, *logged)


def test_reproduce_after_upsert(store: FeatureStore, logged: tuple[Any, Any]) -> None:
    store.write("spend", spend_rows((1, day(1), 11.0, 1)), mode="upsert")
    assert_reproduces(store, *logged)


def test_reproduce_after_replace_range(store: FeatureStore, logged: tuple[Any, Any]) -> None:
    store.write(
        "spend", spend_rows((1, day(8), -5.0, 0)), mode="replace_range", start=day(7), end=day(10)
    )
    assert_reproduces(store, *logged)


def test_reproduce_after_schema_evolution(
    store: FeatureStore, feature_ns: str, logged: tuple[Any, Any]
) -> None:
    features = [*spend_view(feature_ns).features, Feature(name="avg", dtype="float64")]
    evolved = spend_view(feature_ns, features=features)
    store.write(evolved, spend_rows((2, day(4), 8.0, 4), extra=True))  # adds the column
    store.apply([USER, evolved])
    assert_reproduces(store, *logged)
    assert "avg" in store.get_historical_features(entities(), ["spend:*"]).to_arrow().column_names


@pytest.mark.parametrize("change", ["rename", "drop"])
def test_reproduce_after_a_column_is_renamed_or_dropped(
    store: FeatureStore, logged: tuple[Any, Any], change: str
) -> None:
    # The recorded snapshot still holds `n` by field ID; the run is rebuilt with the schema it
    # was read with, whatever the current schema calls (or lacks) that column.
    training, run = logged
    table = store.load_table(training.views[0].table)
    with table.update_schema() as update:
        if change == "rename":
            update.rename_column("n", "count")
        else:
            update.delete_column("n")
    rebuilt = store.reproduce_training_set("churn", 1)
    assert rebuilt.content_hash() == run.content_hash
    assert rebuilt.to_arrow().equals(training.to_arrow())


def test_reproduce_after_a_new_definition(
    store: FeatureStore, feature_ns: str, logged: tuple[Any, Any]
) -> None:
    store.apply([USER, spend_view(feature_ns, ttl=timedelta(days=1))])
    assert_reproduces(store, *logged)


def test_second_log_of_the_same_version_leaves_no_entity_table(
    store: FeatureStore, logged: tuple[Any, Any]
) -> None:
    training, run = logged

    def entity_tables() -> list[str]:
        tables = store.catalog.list_tables(store.namespace)
        return sorted(".".join(t) for t in tables if t[-1].startswith("entity_set__"))

    before = entity_tables()
    assert before == [run.entity_table]
    with pytest.raises(AlreadyExistsError, match="already logged"):
        store.log_model_run("churn", "1", training, description="again")
    with pytest.raises(AlreadyExistsError, match="already logged"):
        training.log_model_run("churn", 1)
    assert entity_tables() == before
    assert store.get_model_run("churn", 1) == run


def test_training_set_logs_itself(store: FeatureStore, logged: tuple[Any, Any]) -> None:
    training, _ = logged
    run = training.log_model_run("churn", "2", tags={"team": "risk"}, description="retrain")
    assert store.get_model_run("churn", "2") == run
    assert [r.version for r in store.list_model_runs(model="churn")] == ["1", "2"]
    assert run.tags == {"team": "risk"}


def test_reproduce_known_at_mode_after_a_backfill(store: FeatureStore, feature_ns: str) -> None:
    store.apply([USER, spend_view(feature_ns)])
    store.write("spend", spend_rows((1, day(1), 10.0, 1), (2, day(2), 20.0, 2)))
    training = store.get_historical_features(entities(), ["spend:*"], point_in_time="known")
    run = store.log_model_run("churn", "k1", training)
    assert run.point_in_time == "known"
    store.write("spend", spend_rows((3, day(3), 30.0, 3)))  # a late backfill
    rebuilt = store.reproduce_training_set("churn", "k1")
    assert rebuilt.point_in_time == "known"
    assert rebuilt.content_hash() == run.content_hash


def test_reproduce_a_view_whose_table_was_empty(store: FeatureStore, feature_ns: str) -> None:
    clicks = FeatureView(
        name="clicks",
        entities=["user"],
        table=f"{feature_ns}.clicks",
        features=[Feature(name="clicks", dtype="int64")],
    )
    store.apply([USER, spend_view(feature_ns), clicks])
    store.write("spend", spend_rows((1, day(1), 10.0, 1)))
    later = pa.table(
        {
            "user_id": pa.array([1], pa.int64()),
            "event_timestamp": pa.array([day(2)], pa.timestamp("us", "UTC")),
            "clicks": pa.array([5], pa.int64()),
        }
    )
    store.write("clicks", later.slice(0, 0))  # creates the table; no rows
    assert store.load_table(clicks.table).current_snapshot() is None
    training = store.get_historical_features(entities(), ["spend:*", "clicks:*"])
    run = store.log_model_run("churn", "e1", training)
    assert run.snapshot_ids["clicks"] is None
    store.write("clicks", later)
    rebuilt = store.reproduce_training_set("churn", "e1")
    assert rebuilt.content_hash() == run.content_hash
    assert rebuilt.to_arrow().column("clicks").null_count == 5
