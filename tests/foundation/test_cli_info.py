"""`featurestore info` on the embedded default and on the REST catalog, as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "featurestore.cli", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_info_on_the_embedded_default(tmp_path: Path) -> None:
    result = run_cli("info", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["catalog_type"] == "sql"
    assert data["reachable"] is True
    assert data["namespaces"] == []  # reading creates nothing
    assert data["config"]["catalog"]["uri"].endswith(".featurestore/catalog.db")


def test_info_text_masks_secrets(tmp_path: Path) -> None:
    env = {
        "FEATURESTORE_CATALOG__TYPE": "rest",
        "FEATURESTORE_CATALOG__URI": "http://127.0.0.1:9",
        "FEATURESTORE_CATALOG__TOKEN": "tok-s3cr3t",
    }
    result = run_cli("info", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "tok-s3cr3t" not in result.stdout + result.stderr
    assert "reachable: False" in result.stdout
    assert "Cannot reach the catalog" in result.stdout


@pytest.mark.rest
def test_info_against_the_rest_server(tmp_path: Path, rest_server: Any) -> None:
    (tmp_path / "featurestore.yaml").write_text(
        f"catalog:\n  type: rest\n  uri: {rest_server.uri}\nnamespace: fs_cli_info\n"
    )
    import featurestore
    from featurestore import Entity

    featurestore.connect(
        catalog={"type": "rest", "uri": rest_server.uri}, namespace="fs_cli_info"
    ).apply(Entity(name="user"))
    result = run_cli("info", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["catalog_type"] == "rest"
    assert "fs_cli_info" in data["namespaces"]


def test_info_reports_an_unknown_catalog_type(tmp_path: Path) -> None:
    (tmp_path / "featurestore.yaml").write_text("catalog:\n  type: nosuch\n")
    result = run_cli("info", cwd=tmp_path)
    assert result.returncode == 1
    assert "error: Unknown catalog type 'nosuch'" in result.stdout


def test_errors_are_one_line_and_exit_1(tmp_path: Path) -> None:
    (tmp_path / "featurestore.yaml").write_text("namespace: 'no spaces allowed'\n")
    result = run_cli("info", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("Error: Invalid featurestore configuration")
    assert "Traceback" not in result.stderr
    verbose = run_cli("--verbose", "info", cwd=tmp_path)
    assert "Traceback" in verbose.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    result = run_cli("no-such-command", cwd=tmp_path)
    assert result.returncode == 2


def test_help_lists_commands(tmp_path: Path) -> None:
    result = run_cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "info" in result.stdout
