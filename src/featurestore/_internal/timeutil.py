"""One rule for Python datetimes everywhere: naive means UTC, aware is converted to UTC."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["as_utc", "epoch_micros"]


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime (naive values are taken as UTC).

    Example:
        >>> as_utc(datetime(2024, 1, 1)).isoformat()
        '2024-01-01T00:00:00+00:00'
    """
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def epoch_micros(value: datetime) -> int:
    """Microseconds since the Unix epoch, exactly (no float rounding).

    Example:
        >>> epoch_micros(datetime(1970, 1, 1, 0, 0, 1))
        1000000
    """
    delta = as_utc(value) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
