"""Helpers shared by tests in several folders (import as ``from fs_testing import ...``)."""

from __future__ import annotations

import uuid

__all__ = ["unique_name"]


def unique_name(prefix: str) -> str:
    """A name no other test uses (REST tests share one server), e.g. for namespaces."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"
