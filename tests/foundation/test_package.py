"""The package surface: exported names, cheap import, typing marker, docker-compose file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import featurestore

ROOT = Path(__file__).resolve().parents[2]

EXPECTED_EXPORTS = {
    "AlreadyExistsError",
    "CatalogError",
    "CatalogUnavailableError",
    "CommitConflictError",
    "ConfigError",
    "DataValidationError",
    "DefinitionError",
    "Entity",
    "Feature",
    "FeatureStore",
    "FeatureStoreError",
    "FeatureView",
    "ModelRun",
    "NotFoundError",
    "ReproducibilityError",
    "RetrievalError",
    "SnapshotNotFoundError",
    "TrainingSet",
    "__version__",
    "connect",
    "view_alias",
}


def test_exported_members_are_locked() -> None:
    assert set(featurestore.__all__) == EXPECTED_EXPORTS
    for name in featurestore.__all__:
        assert getattr(featurestore, name) is not None


def test_import_is_cheap_and_has_no_side_effects(tmp_path: Path) -> None:
    code = (
        "import os, sys, json; before = dict(os.environ); import featurestore; "
        "heavy = [m for m in ('duckdb', 'pyiceberg', 'pyarrow', 'pandas', 'polars', 'mlflow') "
        "if m in sys.modules]; "
        "print(json.dumps({'heavy': heavy, 'env_changed': dict(os.environ) != before}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    data = json.loads(result.stdout)
    assert data == {"heavy": [], "env_changed": False}
    assert list(tmp_path.iterdir()) == []  # nothing written at import


def test_py_typed_marker_ships() -> None:
    assert (Path(featurestore.__file__).parent / "py.typed").is_file()


def test_version_matches_metadata() -> None:
    from importlib.metadata import version

    assert featurestore.__version__ == version("featurestore")


def test_docker_compose_file_is_valid() -> None:
    path = ROOT / "docker-compose.yml"
    data = yaml.safe_load(path.read_text())
    services = data["services"]
    assert services["rest"]["image"].startswith("apache/iceberg-rest-fixture")
    assert services["minio"]["image"].startswith("minio/minio")
    assert "8181:8181" in services["rest"]["ports"]
    command = _compose_command()
    if command is None:
        pytest.skip("no docker client here; structure checked with yaml only")
    result = subprocess.run(
        [*command, "-f", str(path), "config"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "iceberg-rest-fixture" in result.stdout


def _compose_command() -> list[str] | None:
    """`docker compose` (plugin) or `docker-compose`; None when there is no docker client."""
    docker = shutil.which("docker")
    if docker is None:
        return None
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
    if probe.returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy is None:
        pytest.fail("a docker client is here but no compose: run `make system-deps`")
    return [legacy]
