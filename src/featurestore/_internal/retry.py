"""Optimistic commits to the store's append-only system tables (registry, model runs).

Those tables are created with ``commit.retry.num-retries=0`` so that PyIceberg never re-applies
a stale append on its own; instead the caller's whole step (reload, re-check, append) runs
again after a lost race, with jittered exponential back-off.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from featurestore.errors import CommitConflictError

__all__ = ["NO_PYICEBERG_RETRIES", "retry_lost_races"]

T = TypeVar("T")

NO_PYICEBERG_RETRIES = {"commit.retry.num-retries": "0"}
"""Table properties that make a lost race surface at once, for :func:`retry_lost_races`."""


def retry_lost_races(
    step: Callable[[], T],
    *,
    attempts: int,
    exhausted: Callable[[], CommitConflictError],
    base_wait_s: float = 0.05,
    max_wait_s: float = 2.0,
) -> T:
    """Run ``step`` until it does not lose a commit race, at most ``attempts`` times.

    ``step`` must reload what it depends on each time: it runs again from scratch after a
    :class:`CommitConflictError` caused by PyIceberg's ``CommitFailedException`` (another
    writer committed first; nothing of this attempt landed). Any other error propagates.

    Raises:
        CommitConflictError: ``exhausted()``, after ``attempts`` lost races in a row.

    Example:
        >>> retry_lost_races(lambda: 42, attempts=3, exhausted=lambda: CommitConflictError())
        42
    """
    from pyiceberg.exceptions import CommitFailedException

    for attempt in range(attempts):
        try:
            return step()
        except CommitConflictError as exc:
            if not isinstance(exc.__cause__, CommitFailedException):
                raise
            if attempt + 1 < attempts:
                wait = min(max_wait_s, base_wait_s * 2**attempt)
                time.sleep(wait * random.uniform(0.5, 1.5))
    raise exhausted()
