"""A concurrent append into the rows a replace_range / upsert replaces: a commit conflict.

The concurrent append is made to land between planning the replaced files and committing
(by wrapping ``_apply_deletion``); the failed write must leave only the other writer's change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from write_support import content, rows, ts

import featurestore.writes.commit as commit_module
from featurestore.errors import CommitConflictError
from featurestore.store import FeatureStore

if TYPE_CHECKING:
    from featurestore import FeatureView


def _append_during_deletion(
    store: Any, monkeypatch: pytest.MonkeyPatch, row: tuple[int, Any, float]
) -> None:
    other = FeatureStore(store.config)
    original = commit_module._apply_deletion

    def apply_then_append(*args: Any, **kwargs: Any) -> int:
        deleted = original(*args, **kwargs)
        other.write("user_spend", rows(row))
        return deleted

    monkeypatch.setattr(commit_module, "_apply_deletion", apply_then_append)


def test_replace_range_conflicts_with_an_append_into_its_range(
    store: Any, spend_view: FeatureView, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.write("user_spend", rows((1, ts(1), 1.0), (2, ts(2), 2.0)))
    _append_during_deletion(store, monkeypatch, (5, ts(1, 5), 9.0))
    with pytest.raises(CommitConflictError, match="re-run it"):
        store.write(
            "user_spend", rows((1, ts(1), 10.0)), mode="replace_range", start=ts(1), end=ts(2)
        )
    assert content(store, spend_view.table) == [
        (1, ts(1), 1.0),
        (2, ts(2), 2.0),
        (5, ts(1, 5), 9.0),
    ]


def test_upsert_conflicts_with_an_append_of_the_same_key(
    store: Any, spend_view: FeatureView, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.write("user_spend", rows((1, ts(1), 1.0), (2, ts(2), 2.0)))
    _append_during_deletion(store, monkeypatch, (1, ts(1), 7.0))
    with pytest.raises(CommitConflictError):
        store.write("user_spend", rows((1, ts(1), 10.0)), mode="upsert")
    assert content(store, spend_view.table) == [
        (1, ts(1), 1.0),
        (1, ts(1), 7.0),
        (2, ts(2), 2.0),
    ]
