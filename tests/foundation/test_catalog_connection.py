"""Connecting to catalogs: the embedded default, REST, and the errors of bad set-ups."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

import featurestore
from featurestore.errors import (
    CatalogError,
    CatalogUnavailableError,
    ConfigError,
    FeatureStoreError,
    NotFoundError,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_embedded_default_creates_its_folder(tmp_path: Path) -> None:
    store = featurestore.connect()
    assert store.catalog_type == "sql"
    info = store.info()
    assert info["reachable"] is True
    assert (tmp_path / ".featurestore" / "catalog.db").is_file()
    assert (tmp_path / ".featurestore" / "warehouse").is_dir()


def test_reads_create_nothing_and_the_first_write_creates_the_system_namespace(
    store: Any,
) -> None:
    from featurestore import Entity

    assert store.namespace not in store.info()["namespaces"]  # a read-only credential suffices
    assert store.list_entities() == []
    assert store.list_model_runs() == []
    assert store.namespace not in store.info()["namespaces"]
    store.apply(Entity(name="user"))
    assert store.namespace in store.info()["namespaces"]


def test_connect_is_lazy(tmp_path: Path) -> None:
    featurestore.connect(catalog={"type": "rest", "uri": f"http://127.0.0.1:{free_port()}"})
    assert not (tmp_path / ".featurestore").exists()


def test_unreachable_rest_catalog_is_one_clear_error() -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    store = featurestore.connect(catalog={"type": "rest", "uri": uri})
    with pytest.raises(CatalogUnavailableError) as info:
        _ = store.catalog
    message = str(info.value)
    assert uri in message
    assert "featurestore info" in message
    assert "\n" not in message
    assert isinstance(info.value, ConnectionError)


def test_bad_uri_scheme_is_a_catalog_error() -> None:
    store = featurestore.connect(catalog={"type": "rest", "uri": "not-a-url"})
    with pytest.raises(CatalogError, match="not-a-url"):
        _ = store.catalog


def test_unknown_catalog_type_lists_the_valid_ones() -> None:
    store = featurestore.connect(catalog={"type": "oracle", "uri": "x"})
    with pytest.raises(ConfigError, match=r"Unknown catalog type 'oracle'.*rest, sql"):
        _ = store.catalog


def test_missing_warehouse_folder(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-warehouse"
    store = featurestore.connect(
        catalog={"type": "sql", "uri": f"sqlite:///{tmp_path}/c.db", "warehouse": missing.as_uri()}
    )
    with pytest.raises(ConfigError, match=r"Warehouse folder .*no-such-warehouse.* does not exist"):
        _ = store.catalog


def test_sql_catalog_on_a_folder_that_cannot_hold_the_database(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh"
    warehouse.mkdir()
    uri = f"sqlite:///{tmp_path}/missing-dir/c.db"
    store = featurestore.connect(
        catalog={"type": "sql", "uri": uri, "warehouse": warehouse.as_uri()}
    )
    with pytest.raises(CatalogUnavailableError, match="missing-dir"):
        _ = store.catalog


def test_load_table_suggests_close_names(store: Any, feature_ns: str) -> None:
    import pyarrow as pa

    store.catalog.create_table(
        f"{feature_ns}.user_spend", schema=pa.schema([pa.field("user_id", pa.int64())])
    )
    loaded = store.load_table(f"{feature_ns}.user_spend")
    assert loaded.name()[-1] == "user_spend"
    with pytest.raises(NotFoundError, match=r"Did you mean .*user_spend"):
        store.load_table(f"{feature_ns}.user_spnd")
    with pytest.raises(LookupError):
        store.load_table("no_such_ns.table")


@pytest.mark.rest
def test_rest_catalog_info(rest_server: Any) -> None:
    store = featurestore.connect(
        catalog={"type": "rest", "uri": rest_server.uri, "token": "not-printed"},
        namespace="fs_info",
    )
    store.catalog.create_namespace_if_not_exists("fs_info")
    info = store.info()
    assert info["reachable"] is True
    assert info["catalog_type"] == "rest"
    assert "fs_info" in info["namespaces"]
    assert info["config"]["catalog"]["token"] == "********"


def test_every_error_is_a_featurestore_error() -> None:
    import featurestore.errors as errors

    classes = [getattr(errors, name) for name in errors.__all__]
    assert all(issubclass(cls, FeatureStoreError) for cls in classes)
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes))
    assert issubclass(errors.NotFoundError, LookupError)
    assert issubclass(errors.ConfigError, ValueError)
    assert issubclass(errors.CatalogUnavailableError, ConnectionError)


def _connect_and_touch(home: str, barrier: Any) -> str:
    import featurestore as fs
    from featurestore.catalog import ensure_namespace

    store = fs.connect(home=home, namespace="shared_ns")
    barrier.wait()
    ensure_namespace(store.catalog, store.namespace)
    return str(store.info()["namespaces"])


def test_concurrent_first_writers_create_the_namespace_once(tmp_path: Path) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    home = str(tmp_path / "racing")
    featurestore.connect(home=home).info()  # the catalog database exists; the namespace does not
    with ctx.Manager() as manager:
        barrier = manager.Barrier(4)
        with ctx.Pool(4) as pool:
            results = pool.starmap(_connect_and_touch, [(home, barrier)] * 4)
    assert all("shared_ns" in r for r in results)
