"""End-to-end tests of the Iceberg REST catalog server in tests/rest_catalog/java via PyIceberg."""

from __future__ import annotations

import json
import os
import pathlib
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NamespaceNotEmptyError,
    NoSuchNamespaceError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.expressions import And, EqualTo, GreaterThanOrEqual, LessThan
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform
from pyiceberg.types import DoubleType, LongType, NestedField, StringType, TimestampType

from .server import RestCatalogServer, start_rest_catalog

pytestmark = pytest.mark.rest

SCHEMA = Schema(
    NestedField(1, "entity_id", LongType(), required=False),
    NestedField(2, "event_ts", TimestampType(), required=False),
    NestedField(3, "value", DoubleType(), required=False),
)
DAY_SPEC = PartitionSpec(
    PartitionField(source_id=2, field_id=1000, transform=DayTransform(), name="event_ts_day")
)
ARROW_SCHEMA = pa.schema(
    [("entity_id", pa.int64()), ("event_ts", pa.timestamp("us")), ("value", pa.float64())]
)
T0 = datetime(2024, 1, 1)

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _rows(entity_ids: list[int], day: int, value: float) -> pa.Table:
    return pa.table(
        {
            "entity_id": entity_ids,
            "event_ts": [T0 + timedelta(days=day, hours=i) for i in range(len(entity_ids))],
            "value": [value] * len(entity_ids),
        },
        schema=ARROW_SCHEMA,
    )


def _catalog(server: RestCatalogServer, name: str = "t") -> Catalog:
    return load_catalog(name, type="rest", uri=server.uri)


def _http(
    server: RestCatalogServer, method: str, path: str, body: Any = None
) -> tuple[int, dict[str, Any] | None]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        server.uri + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with _NO_PROXY.open(request, timeout=30) as response:
            raw = response.read()
            return response.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, (json.loads(raw) if raw else None)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = pathlib.Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestCatalogServer]:
    srv = start_rest_catalog(tmp_path_factory.mktemp("rest-catalog"))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def catalog(server: RestCatalogServer) -> Catalog:
    return _catalog(server)


@pytest.fixture
def namespace(catalog: Catalog, request: pytest.FixtureRequest) -> str:
    ns = str(request.node.name).replace("[", "_").replace("]", "_").replace("-", "_")
    catalog.create_namespace(ns)
    return ns


# ---------------------------------------------------------------------------------------------
# protocol level
# ---------------------------------------------------------------------------------------------


def test_config_and_error_model(server: RestCatalogServer) -> None:
    status, body = _http(server, "GET", "/v1/config")
    assert status == 200
    assert body == {"defaults": {}, "overrides": {}}

    status, body = _http(server, "GET", "/v1/namespaces/nope/tables/missing")
    assert status == 404
    assert body is not None
    assert body["error"]["code"] == 404
    assert body["error"]["type"] == "NoSuchTableException"
    assert "missing" in body["error"]["message"]

    status, _ = _http(server, "POST", "/v1/namespaces", {"namespace": ["proto_ns"]})
    assert status == 200
    status, body = _http(server, "POST", "/v1/namespaces", {"namespace": ["proto_ns"]})
    assert status == 409
    assert body is not None
    assert body["error"]["type"] == "AlreadyExistsException"

    status, body = _http(server, "POST", "/v1/namespaces", {"not": "a namespace request"})
    assert status == 400
    assert body is not None
    assert body["error"]["code"] == 400

    status, body = _http(server, "GET", "/v1/no/such/route")
    assert status == 400

    status, _ = _http(server, "HEAD", "/v1/namespaces/proto_ns")
    assert status == 204
    status, _ = _http(server, "HEAD", "/v1/namespaces/missing_ns")
    assert status == 404

    status, _ = _http(server, "POST", "/v1/namespaces/proto_ns/tables/x/metrics", {"anything": 1})
    assert status == 204


def test_stale_commit_is_409_commit_failed(
    server: RestCatalogServer, catalog: Catalog, namespace: str
) -> None:
    table = catalog.create_table(f"{namespace}.events", schema=SCHEMA)
    table.append(_rows([1], 0, 1.0))
    first = table.current_snapshot()
    assert first is not None
    table.append(_rows([2], 0, 2.0))

    stale_commit = {
        "requirements": [
            {"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": first.snapshot_id}
        ],
        "updates": [{"action": "set-properties", "updates": {"k": "v"}}],
    }
    status, body = _http(server, "POST", f"/v1/namespaces/{namespace}/tables/events", stale_commit)
    assert status == 409
    assert body is not None
    assert body["error"]["type"] == "CommitFailedException"
    assert "k" not in catalog.load_table(f"{namespace}.events").properties


def test_multi_table_transaction_commit(
    server: RestCatalogServer, catalog: Catalog, namespace: str
) -> None:
    a = catalog.create_table(f"{namespace}.a", schema=SCHEMA)
    b = catalog.create_table(f"{namespace}.b", schema=SCHEMA)

    def change(name: str, uuid: str, value: str) -> dict[str, Any]:
        return {
            "identifier": {"namespace": [namespace], "name": name},
            "requirements": [{"type": "assert-table-uuid", "uuid": uuid}],
            "updates": [{"action": "set-properties", "updates": {"txn": value}}],
        }

    ok = {
        "table-changes": [
            change("a", str(a.metadata.table_uuid), "1"),
            change("b", str(b.metadata.table_uuid), "1"),
        ]
    }
    status, _ = _http(server, "POST", "/v1/transactions/commit", ok)
    assert status == 204
    assert catalog.load_table(f"{namespace}.a").properties["txn"] == "1"
    assert catalog.load_table(f"{namespace}.b").properties["txn"] == "1"

    # One failing requirement: nothing is committed.
    bad = {
        "table-changes": [
            change("a", str(a.metadata.table_uuid), "2"),
            change("b", "00000000-0000-0000-0000-000000000000", "2"),
        ]
    }
    status, body = _http(server, "POST", "/v1/transactions/commit", bad)
    assert status == 409
    assert body is not None
    assert body["error"]["type"] == "CommitFailedException"
    assert catalog.load_table(f"{namespace}.a").properties["txn"] == "1"


# ---------------------------------------------------------------------------------------------
# PyIceberg RestCatalog
# ---------------------------------------------------------------------------------------------


def test_namespaces(catalog: Catalog) -> None:
    catalog.create_namespace("ns_ops", {"owner": "team-a"})
    catalog.create_namespace(("ns_ops", "child"))
    with pytest.raises(NamespaceAlreadyExistsError):
        catalog.create_namespace("ns_ops")

    assert ("ns_ops",) in catalog.list_namespaces()
    assert catalog.list_namespaces("ns_ops") == [("ns_ops", "child")]
    assert catalog.namespace_exists("ns_ops")
    assert not catalog.namespace_exists("ns_missing")
    assert catalog.load_namespace_properties("ns_ops")["owner"] == "team-a"

    summary = catalog.update_namespace_properties("ns_ops", removals={"owner"}, updates={"x": "1"})
    assert summary.removed == ["owner"]
    props = catalog.load_namespace_properties("ns_ops")
    assert props["x"] == "1"
    assert "owner" not in props

    with pytest.raises(NoSuchNamespaceError):
        catalog.load_namespace_properties("ns_missing")

    catalog.create_table(("ns_ops", "child", "t"), schema=SCHEMA)
    with pytest.raises(NamespaceNotEmptyError):
        catalog.drop_namespace(("ns_ops", "child"))
    catalog.drop_table(("ns_ops", "child", "t"))
    catalog.drop_namespace(("ns_ops", "child"))
    catalog.drop_namespace("ns_ops")
    assert not catalog.namespace_exists("ns_ops")
    with pytest.raises(NoSuchNamespaceError):
        catalog.drop_namespace("ns_ops")


def test_table_lifecycle(server: RestCatalogServer, catalog: Catalog, namespace: str) -> None:
    ident = f"{namespace}.features"
    table = catalog.create_table(ident, schema=SCHEMA, partition_spec=DAY_SPEC)
    assert table.location().startswith(server.warehouse)
    assert catalog.table_exists(ident)
    assert catalog.list_tables(namespace) == [(namespace, "features")]
    with pytest.raises(TableAlreadyExistsError):
        catalog.create_table(ident, schema=SCHEMA)

    # append: two snapshots over three day partitions
    table.append(_rows([1, 2], 0, 1.0))
    first = table.current_snapshot()
    assert first is not None
    table.append(_rows([3, 4], 1, 1.0))
    table.append(_rows([5], 2, 1.0))
    assert table.scan().to_arrow().num_rows == 5

    # the server holds the same state as the client
    reloaded = catalog.load_table(ident)
    assert reloaded.metadata.current_snapshot_id == table.metadata.current_snapshot_id
    assert len(reloaded.snapshots()) == 3
    assert reloaded.spec().fields[0].transform == DayTransform()

    # overwrite one day partition
    day1 = And(
        GreaterThanOrEqual("event_ts", (T0 + timedelta(days=1)).isoformat()),
        LessThan("event_ts", (T0 + timedelta(days=2)).isoformat()),
    )
    table.overwrite(_rows([30, 40, 41], 1, 9.0), overwrite_filter=day1)
    result = table.scan().to_arrow()
    assert sorted(result["entity_id"].to_pylist()) == [1, 2, 5, 30, 40, 41]

    # filtered scan
    filtered = table.scan(row_filter=EqualTo("value", 9.0)).to_arrow()
    assert sorted(filtered["entity_id"].to_pylist()) == [30, 40, 41]

    # time travel to the first snapshot
    old = table.scan(snapshot_id=first.snapshot_id).to_arrow()
    assert sorted(old["entity_id"].to_pylist()) == [1, 2]

    # tag, visible to a fresh client
    table.manage_snapshots().create_tag(first.snapshot_id, "v1").commit()
    tagged = catalog.load_table(ident).snapshot_by_name("v1")
    assert tagged is not None
    assert tagged.snapshot_id == first.snapshot_id

    # schema evolution, then write and read the new column
    with table.update_schema() as update:
        update.add_column("label", StringType())
    assert catalog.load_table(ident).schema().find_field("label").field_id == 4
    new_rows = _rows([6], 3, 2.0).append_column("label", pa.array(["new"], pa.large_string()))
    table.append(new_rows)
    labels = dict(
        zip(
            table.scan().to_arrow()["entity_id"].to_pylist(),
            table.scan().to_arrow()["label"].to_pylist(),
            strict=True,
        )
    )
    assert labels[6] == "new"
    assert labels[1] is None

    # rename, drop
    catalog.rename_table(ident, f"{namespace}.features_v2")
    assert not catalog.table_exists(ident)
    assert catalog.load_table(f"{namespace}.features_v2").scan().to_arrow().num_rows == 7
    catalog.drop_table(f"{namespace}.features_v2")
    assert not catalog.table_exists(f"{namespace}.features_v2")
    with pytest.raises(NoSuchTableError):
        catalog.load_table(f"{namespace}.features_v2")
    with pytest.raises(NoSuchTableError):
        catalog.drop_table(f"{namespace}.features_v2")


def test_conflicting_commit(catalog: Catalog, namespace: str) -> None:
    ident = f"{namespace}.conflict"
    catalog.create_table(ident, schema=SCHEMA, properties={"commit.retry.num-retries": "0"})
    t1 = catalog.load_table(ident)
    t2 = catalog.load_table(ident)
    assert t1.metadata_location == t2.metadata_location

    t1.append(_rows([1], 0, 1.0))
    with pytest.raises(CommitFailedException):
        t2.append(_rows([2], 0, 2.0))
    assert catalog.load_table(ident).scan().to_arrow()["entity_id"].to_pylist() == [1]

    # schema changes are not retried by PyIceberg either: a stale one fails
    s1 = catalog.load_table(ident)
    s2 = catalog.load_table(ident)
    with s1.update_schema() as update:
        update.add_column("a", StringType())
    with pytest.raises(CommitFailedException), s2.update_schema() as update:
        update.add_column("b", StringType())

    # with PyIceberg's default retries a concurrent append is refreshed and lands
    ident2 = f"{namespace}.conflict_retry"
    catalog.create_table(ident2, schema=SCHEMA)
    r1 = catalog.load_table(ident2)
    r2 = catalog.load_table(ident2)
    r1.append(_rows([1], 0, 1.0))
    r2.append(_rows([2], 0, 2.0))
    assert sorted(catalog.load_table(ident2).scan().to_arrow()["entity_id"].to_pylist()) == [1, 2]


def test_concurrent_writers(server: RestCatalogServer, catalog: Catalog, namespace: str) -> None:
    ident = f"{namespace}.concurrent"
    catalog.create_table(
        ident,
        schema=SCHEMA,
        partition_spec=DAY_SPEC,
        properties={
            "commit.retry.num-retries": "50",
            "commit.retry.min-wait-ms": "10",
            "commit.retry.max-wait-ms": "200",
        },
    )
    writers, appends = 6, 3
    errors: list[BaseException] = []
    barrier = threading.Barrier(writers)

    def write(worker: int) -> None:
        try:
            table = _catalog(server, f"w{worker}").load_table(ident)
            barrier.wait()
            for i in range(appends):
                table.append(_rows([worker * 100 + i], worker % 3, float(worker)))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    table = catalog.load_table(ident)
    ids = sorted(table.scan().to_arrow()["entity_id"].to_pylist())
    assert ids == sorted(w * 100 + i for w in range(writers) for i in range(appends))
    assert len(table.snapshots()) == writers * appends


def test_staged_create_register_and_purge(
    server: RestCatalogServer, catalog: Catalog, namespace: str
) -> None:
    ident = f"{namespace}.staged"
    with catalog.create_table_transaction(ident, schema=SCHEMA, partition_spec=DAY_SPEC) as txn:
        assert not catalog.table_exists(ident)  # staged only
        txn.append(_rows([1, 2], 0, 1.0))
    table = catalog.load_table(ident)
    assert table.scan().to_arrow().num_rows == 2

    # register the same metadata file under a second name
    registered = catalog.register_table(f"{namespace}.registered", table.metadata_location)
    assert registered.scan().to_arrow().num_rows == 2
    catalog.drop_table(f"{namespace}.registered")  # drop without purge keeps files
    metadata_file = pathlib.Path(table.metadata_location.removeprefix("file://"))
    assert metadata_file.exists()

    catalog.purge_table(ident)
    assert not catalog.table_exists(ident)
    assert not metadata_file.exists()


# ---------------------------------------------------------------------------------------------
# process management and persistence
# ---------------------------------------------------------------------------------------------


def test_state_survives_restart(tmp_path: pathlib.Path) -> None:
    first = start_rest_catalog(tmp_path)
    try:
        cat = _catalog(first)
        cat.create_namespace("persist")
        table = cat.create_table("persist.t", schema=SCHEMA, partition_spec=DAY_SPEC)
        table.append(_rows([1, 2, 3], 0, 1.0))
        table.append(_rows([4], 1, 1.0))
        snapshot_ids = [s.snapshot_id for s in table.snapshots()]
    finally:
        first.stop()

    second = start_rest_catalog(tmp_path)
    try:
        assert second.pid != first.pid
        cat = _catalog(second)
        assert ("persist",) in cat.list_namespaces()
        table = cat.load_table("persist.t")
        assert [s.snapshot_id for s in table.snapshots()] == snapshot_ids
        assert table.scan().to_arrow().num_rows == 4
        table.append(_rows([5], 2, 1.0))
        assert cat.load_table("persist.t").scan().to_arrow().num_rows == 5
    finally:
        second.stop()


def test_stop_kills_the_process(tmp_path: pathlib.Path) -> None:
    srv = start_rest_catalog(tmp_path)
    assert _pid_alive(srv.pid)
    assert srv.is_running()
    assert _http(srv, "GET", "/v1/config")[0] == 200
    srv.stop()
    assert not _pid_alive(srv.pid)
    assert not srv.is_running()
    with pytest.raises(urllib.error.URLError):
        _http(srv, "GET", "/v1/config")
    srv.stop()  # idempotent
    # a PID-only handle (no Popen) can stop a server too
    other = start_rest_catalog(tmp_path / "other")
    RestCatalogServer(other.uri, other.warehouse, other.pid, other.log_path).stop()
    assert not _pid_alive(other.pid)
    other.stop()
