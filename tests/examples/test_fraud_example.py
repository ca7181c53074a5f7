"""The fraud-detection example, end to end, on both catalogs; and its feature SQL alone.

The end-to-end test runs the same functions ``make demo`` runs (data -> features -> train ->
detect -> debug) on a fresh store, then checks the outcomes the story promises: a normal
transaction is not flagged, an injected anomaly is, the features neither leak the scored
day nor duplicate on re-runs, and the debug JSON is read back through the model run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from fs_testing import unique_name

if TYPE_CHECKING:
    from featurestore.store import FeatureStore

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fraud_detection"
USERS, DAYS = 40, 30
ANOMALY = {"user_id": 17, "day": "2024-01-25", "multiplier": 30, "proportion": 1.0}


@pytest.fixture(autouse=True)
def _example_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLE))


def _story(store: FeatureStore, tmp_path: Path) -> dict[str, Any]:
    from fraud_example import data, features, train
    from fraud_example.definitions import Tables

    tables = Tables(unique_name("raw"), unique_name("features"))
    anomalies = tmp_path / "anomalies.json"
    anomalies.write_text(json.dumps([ANOMALY]))
    report = data.run(store, tables=tables, users=USERS, days=DAYS, seed=3, anomalies=anomalies)
    first = features.run(store, tables=tables)
    second = features.run(store, tables=tables)
    run = train.train(store, version=1, quantile=0.995, tables=tables)
    return {"tables": tables, "data": report, "first": first, "second": second, "run": run}


def test_story_end_to_end(store: FeatureStore, tmp_path: Path) -> None:
    from fraud_example import debug, detect
    from fraud_example.definitions import MEAN

    story = _story(store, tmp_path)
    tables, run = story["tables"], story["run"]
    assert len(story["data"]["snapshots"]) == 5  # 30 days in weekly batches
    injected = story["data"]["anomalies"]
    assert [a["user_id"] for a in injected] == [17] * len(injected)
    assert injected

    # re-running the materialisation replaced the range: same rows, no duplicates
    spend = store.load_table(tables.spend).scan().to_arrow()
    stamps_per_user = DAYS - 7 + 1
    assert spend.num_rows == USERS * stamps_per_user == story["second"]["result"].rows_written
    assert story["second"]["result"].rows_deleted == story["first"]["result"].rows_written

    # the threshold is the promised quantile of the training z-scores
    assert run.metrics["train_flag_rate"] <= 0.0051
    assert run.metrics["rows_without_features"] == 0

    anomaly = injected[0]
    flagged = detect.score(
        store, user_id=17, amount=anomaly["amount"], at=anomaly["event_timestamp"]
    )
    assert flagged.is_anomaly is True
    assert flagged.z_score is not None
    assert flagged.z_score > 2 * flagged.threshold_used
    normal = detect.score(
        store, user_id=17, amount=anomaly["before"], at=anomaly["event_timestamp"]
    )
    assert normal.is_anomaly is False

    doc = debug.explain(
        store, user_id=17, amount=anomaly["amount"], at=anomaly["event_timestamp"], tables=tables
    )
    card = doc["model_card"]
    assert doc["model_version"] == "1"
    assert doc["decision"]["is_anomaly"] is True
    assert (
        card["decision_threshold"] == run.params["threshold"] == doc["decision"]["threshold_used"]
    )
    assert card["quantile"] == 0.995
    assert card["feature_name"] == "user_spend_7d:spend_mean_7d"
    assert (
        card["feature_snapshot_id"] == store.load_table(tables.spend).current_snapshot().snapshot_id
    )
    assert card["raw_events_snapshot_id"] == story["data"]["snapshots"][-1]
    assert card["training_window_start"] >= "2024-01-08"

    # no leakage: at 2024-01-25 the newest value is the one of 2024-01-24
    context = doc["context"]
    assert context["last_n_feature_dates"][-1] == "2024-01-24"
    assert context["last_n_feature_dates"] == sorted(context["last_n_feature_dates"])
    assert context["as_of_feature_value"] == context["last_n_feature_values"][-1]
    same_day = [
        r
        for r in spend.to_pylist()
        if r["user_id"] == 17 and r["event_timestamp"] == datetime(2024, 1, 26, tzinfo=UTC)
    ]
    assert same_day[0][MEAN] > context["as_of_feature_value"]  # the anomaly shows up a day later


def test_feature_sql_is_utc_gap_filled_and_stamped_at_day_end() -> None:
    import duckdb
    import pandas as pd
    from fraud_example.data import generate
    from fraud_example.features import feature_sql

    table = generate(users=6, days=12, seed=5)
    expected = _reference_features(table.to_pandas(), users=6, days=12)
    for zone in ("UTC", "Pacific/Kiritimati", "America/Los_Angeles"):
        con = duckdb.connect()
        con.execute(f"SET TimeZone = '{zone}'")
        con.register("tx", table)
        con.execute("CREATE SCHEMA raw; CREATE VIEW raw.transactions AS SELECT * FROM tx")
        params = {
            "start": datetime(2024, 1, 8, tzinfo=UTC),
            "end": datetime(2024, 1, 14, tzinfo=UTC),
        }
        got = con.sql(feature_sql(), params=params).to_arrow_table().to_pandas()
        got["event_timestamp"] = got["event_timestamp"].dt.tz_convert("UTC")
        pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_dtype=False)


def _reference_features(frame: Any, *, users: int, days: int) -> Any:
    import pandas as pd

    frame["amount"] = frame["amount"].astype("float64")
    frame["day"] = frame["event_timestamp"].dt.tz_convert("UTC").dt.floor("D")
    grid = pd.MultiIndex.from_product(
        [range(1, users + 1), pd.date_range("2024-01-01", periods=days, freq="D", tz="UTC")],
        names=["user_id", "day"],
    )
    daily = frame.groupby(["user_id", "day"])["amount"].sum().reindex(grid, fill_value=0.0)
    rolled = daily.groupby(level="user_id")
    out = pd.DataFrame(
        {
            "spend_mean_7d": rolled.transform(lambda s: s.rolling(7).mean()),
            "spend_std_7d": rolled.transform(lambda s: s.rolling(7).std(ddof=0)),
        }
    ).reset_index()
    out["event_timestamp"] = out["day"] + pd.Timedelta(days=1)
    keep = (out["event_timestamp"] >= "2024-01-08") & (out["event_timestamp"] < "2024-01-14")
    out = out[keep & out["spend_mean_7d"].notna()]
    return out[["user_id", "event_timestamp", "spend_mean_7d", "spend_std_7d"]].reset_index(
        drop=True
    )


def test_anomaly_spec_that_matches_nothing_is_an_error() -> None:
    from fraud_example.data import AnomalySpec, AnomalySpecError, generate, inject

    table = generate(users=3, days=2, seed=1)
    with pytest.raises(AnomalySpecError, match="user_id=99 day=2024-01-01"):
        inject(table, [AnomalySpec(99, date(2024, 1, 1), 5.0, 1.0)])


def test_malformed_anomaly_file_names_the_entry(tmp_path: Path) -> None:
    from fraud_example.data import AnomalySpecError, load_anomalies

    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"user_id": 1, "day": "2024-01-01", "multiplier": 2}]))
    with pytest.raises(AnomalySpecError, match=r"bad.json\[0\].*proportion"):
        load_anomalies(path)


@pytest.mark.slow
def test_make_demo_ends_with_debug_json(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-C",
            str(EXAMPLE),
            "demo",
            f"PYTHON={sys.executable}",
        ],
        capture_output=True,
        text=True,
        check=False,
        env=_clean_env(tmp_path),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(done.stdout[done.stdout.index("\n{") + 1 :])
    assert document["decision"]["is_anomaly"] is True  # the Makefile's default: user 17, 400.00
    assert document["context"]["last_n_feature_dates"][-1] == "2024-02-29"
    assert set(document) == {"model_version", "decision", "why", "context", "model_card"}


def _clean_env(tmp_path: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_")}
    env["TMPDIR"] = str(tmp_path)
    return env
