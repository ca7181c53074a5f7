"""`featurestore models list / show / reproduce`, run in-process through the real entry point."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq
import pytest
from lineage_setup import log_run, setup_view

from featurestore.cli.main import main

if TYPE_CHECKING:
    from pathlib import Path

    from featurestore.store import FeatureStore


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    else:
        code = 0
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def cli_store(store: FeatureStore, monkeypatch: pytest.MonkeyPatch) -> FeatureStore:
    """Point the CLI's configuration (environment) at the test's store."""
    monkeypatch.setenv("FEATURESTORE_NAMESPACE", store.namespace)
    if store.config.is_embedded:
        monkeypatch.setenv("FEATURESTORE_HOME", str(store.config.home))
    else:
        for key, value in store.config.catalog.items():
            monkeypatch.setenv(f"FEATURESTORE_CATALOG__{key.upper()}", value)
    return store


def test_list_before_any_run(cli_store: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "models", "list") == (0, "No model runs logged yet.\n", "")
    code, out, _ = run_cli(capsys, "models", "list", "--json")
    assert (code, json.loads(out)) == (0, [])


def test_list_show_reproduce(
    cli_store: FeatureStore,
    feature_ns: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_view(cli_store, feature_ns)
    training, run = log_run(cli_store, ["spend:*"], "churn", "1.0")
    log_run(cli_store, ["spend:*"], "fraud", "2")

    code, out, _ = run_cli(capsys, "models", "list", "--model", "churn")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "model",
        "version",
        "trained_at",
        "rows",
        "features",
        "content_hash",
    ]
    assert len(lines) == 3
    assert lines[2].split()[:2] == ["churn", "1.0"]

    code, out, _ = run_cli(capsys, "models", "show", "churn", "1.0")
    assert code == 0
    assert f"content_hash: {run.content_hash}" in out
    assert f"spend: {run.views[0].table}@{run.views[0].snapshot_id}" in out

    code, out, _ = run_cli(capsys, "models", "show", "churn", "1.0", "--json")
    assert json.loads(out)["entity_snapshot_id"] == run.entity_snapshot_id

    target = tmp_path / "rebuilt.parquet"
    code, out, _ = run_cli(
        capsys, "models", "reproduce", "churn", "1.0", "--out", str(target), "--json"
    )
    assert code == 0, out
    result = json.loads(out)
    assert result["hash_check"] == "identical"
    assert result["rows"] == run.row_count
    assert pq.read_table(target).equals(training.to_arrow())


def test_unknown_run_exits_1_with_suggestion(
    cli_store: FeatureStore, feature_ns: str, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_view(cli_store, feature_ns)
    log_run(cli_store, ["spend:*"], "churn", "1")
    code, _, err = run_cli(capsys, "models", "show", "churn", "2")
    assert code == 1
    assert "Unknown model run 'churn 2'. Did you mean 'churn 1'?" in err
