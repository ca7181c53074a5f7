"""The one statistic both training and detection use: a transaction's z-score.

Training calibrates the threshold on exactly this function's output, so the share of normal
traffic that detection flags is the share the quantile promised.
"""

from __future__ import annotations

import math
from decimal import Decimal

STD_FLOOR = 1.0
"""Smallest std used (currency units): a user whose spend never varied gives no division by 0."""


def z_score(amount: float | Decimal, mean: float | None, std: float | None) -> float | None:
    """How many (floored) standard deviations ``amount`` lies above the user's mean daily spend.

    Returns ``None`` when the user has no feature value (no history known at that time).

    Example:
        >>> z_score(130, 100.0, 15.0)
        2.0
        >>> z_score(5, 0.0, 0.0)
        5.0
        >>> z_score(5, None, None) is None
        True
    """
    if mean is None or std is None or _missing(mean) or _missing(std):
        return None
    return (float(amount) - mean) / max(std, STD_FLOOR)


def _missing(value: float) -> bool:
    return isinstance(value, float) and math.isnan(value)
