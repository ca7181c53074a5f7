"""Shared fixtures: one behaviour suite, parametrised over the embedded and the REST catalog.

``store`` gives a fresh :class:`~featurestore.FeatureStore` per test, on the embedded SQLite
catalog (a temporary folder) and on a real Iceberg REST catalog that the session starts on
127.0.0.1 (``tests/rest_catalog``). REST tests share one server and are isolated by unique
namespaces. When the server cannot be built or started, REST tests are skipped with the
reason, except under ``CI=true`` or ``FEATURESTORE_REQUIRE_REST=1`` (``make test``), where that
is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import featurestore
from fs_testing import unique_name

if TYPE_CHECKING:
    from featurestore.store import FeatureStore

CATALOG_KINDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("rest", id="rest", marks=pytest.mark.rest),
]


def _rest_required() -> bool:
    return (
        os.environ.get("CI", "").lower() == "true"
        or os.environ.get("FEATURESTORE_REQUIRE_REST") == "1"
    )


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's featurestore.yaml or FEATURESTORE_* variables."""
    for key in list(os.environ):
        if (
            key.startswith("FEATURESTORE_")
            and key != "FEATURESTORE_REQUIRE_REST"
            and key != "FEATURESTORE_CACHE_DIR"
        ):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TZ", os.environ.get("TZ", "UTC"))


@pytest.fixture(scope="session")
def rest_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real Iceberg REST catalog server for the whole session, stopped by PID afterwards."""
    from rest_catalog.server import RestCatalogUnavailable, start_rest_catalog

    try:
        server = start_rest_catalog(tmp_path_factory.mktemp("rest-catalog"))
    except RestCatalogUnavailable as exc:
        if _rest_required():
            pytest.fail(f"REST catalog server unavailable (required here): {exc}", pytrace=False)
        pytest.skip(f"REST catalog server unavailable: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=CATALOG_KINDS)
def catalog_kind(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"rest"``."""
    return str(request.param)


@pytest.fixture
def store_factory(catalog_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Build stores on the current catalog kind; all of one test share one catalog."""
    namespace = unique_name("fs")
    home = tmp_path / "store"

    def make(**overrides: Any) -> FeatureStore:
        options: dict[str, Any] = {"namespace": namespace}
        if catalog_kind == "rest":
            server = request.getfixturevalue("rest_server")
            options["catalog"] = {"type": "rest", "uri": server.uri}
        else:
            options["home"] = home
        options.update(overrides)
        return featurestore.connect(**options)

    return make


@pytest.fixture
def store(store_factory: Any) -> FeatureStore:
    """A fresh feature store on the current catalog kind."""
    result: FeatureStore = store_factory()
    return result


@pytest.fixture
def feature_ns(store: FeatureStore) -> str:
    """A fresh namespace for the test's feature tables, created in the store's catalog."""
    from featurestore.catalog import ensure_namespace

    name = unique_name("features")
    ensure_namespace(store.catalog, name)
    return name


_REST_OUTCOMES: dict[str, int] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count outcomes of tests that ran against the REST catalog (for the closing summary)."""
    if report.when == "call" and "rest" in report.keywords:
        _REST_OUTCOMES[report.outcome] = _REST_OUTCOMES.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how many tests ran against the real REST catalog server, so a log shows it."""
    if _REST_OUTCOMES:
        counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(_REST_OUTCOMES.items()))
        terminalreporter.write_line(f"REST catalog (Iceberg REST server on 127.0.0.1): {counts}")
