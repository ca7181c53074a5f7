"""Two processes append to one feature table at the same time: both sets of rows land."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from write_support import rows

if TYPE_CHECKING:
    from featurestore import FeatureView
    from featurestore.config import StoreConfig

WRITES_PER_PROCESS = 4


def _append_many(config: StoreConfig, user: int) -> None:
    import pyarrow as pa

    from featurestore.store import FeatureStore

    store = FeatureStore(config)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(WRITES_PER_PROCESS):
        data = pa.table(
            {"user_id": [user], "event_timestamp": [base + timedelta(hours=i)], "spend": [float(i)]}
        )
        store.write("user_spend", data)


def test_two_processes_append_concurrently(store: Any, spend_view: FeatureView) -> None:
    store.write("user_spend", rows())  # creates the table (no rows, no snapshot)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(store.config, u)) for u in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=240)
    assert [w.exitcode for w in workers] == [0, 0]
    data = store.load_table(spend_view.table).scan().to_arrow()
    pairs = sorted(zip(data["user_id"].to_pylist(), data["spend"].to_pylist(), strict=True))
    expected = sorted((u, float(i)) for u in (1, 2) for i in range(WRITES_PER_PROCESS))
    assert pairs == expected
    assert len(store.load_table(spend_view.table).snapshots()) == 2 * WRITES_PER_PROCESS
