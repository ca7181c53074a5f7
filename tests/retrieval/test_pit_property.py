"""Property-based: on random keys, timestamps, ties, NULLs and TTLs the engine equals the oracle."""

from __future__ import annotations

import datetime as dt
import itertools

import pyarrow as pa
from hypothesis import HealthCheck, given, settings, strategies as st
from pit_support import TS, assert_matches_reference, at, make_table, ref_view, view_def

SCHEMA = pa.schema(
    [
        ("user_id", pa.int64()),
        ("event_timestamp", TS),
        ("created", TS),
        ("_ingested_at", TS),
        ("x", pa.int64()),
    ]
)
_COUNTER = itertools.count()

keys = st.one_of(st.none(), st.integers(0, 4))
times = st.builds(lambda d, h: at(d, h), st.integers(1, 4), st.sampled_from([0, 6, 12]))
maybe_times = st.one_of(st.none(), times)
feature_rows = st.fixed_dictionaries(
    {
        "user_id": keys,
        "event_timestamp": times,
        "created": maybe_times,
        "_ingested_at": maybe_times,
        "x": st.integers(-5, 5),
    }
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batches=st.lists(st.lists(feature_rows, max_size=8), min_size=1, max_size=3),
    entities=st.lists(st.tuples(keys, st.one_of(st.none(), times)), max_size=12),
    ttl_hours=st.one_of(st.none(), st.sampled_from([6, 12, 30])),
    use_created=st.booleans(),
    known=st.booleans(),
)
def test_engine_equals_reference(
    store, feature_ns, batches, entities, ttl_hours, use_created, known
):
    n = next(_COUNTER)
    table = f"{feature_ns}.p{n}"
    rows = make_table(store, table, SCHEMA, batches)
    ttl = None if ttl_hours is None else dt.timedelta(hours=ttl_hours)
    entity, view = view_def(
        f"p{n}",
        table,
        ["user_id"],
        {"x": pa.int64()},
        ttl=ttl,
        created="created" if use_created else None,
    )
    store.apply([entity, view])
    ref = ref_view(view, ["user_id"], rows, ingested="_ingested_at")
    ents = pa.table(
        {
            "user_id": pa.array([k for k, _ in entities], pa.int64()),
            "event_timestamp": pa.array([t for _, t in entities], TS),
        }
    )
    mode = "known" if known else "event"
    assert_matches_reference(store, ents, [f"p{n}:x"], [ref], point_in_time=mode)
