"""Invariants the code relies on, checked in every run (``assert`` is stripped by ``python -O``).

``present(value, why)`` returns a value that must not be None, narrowing its type; a None means
a bug, reported as a ``RuntimeError`` naming the invariant, never carried on as if it were
data.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def present(value: T | None, why: str) -> T:
    """``value``, which ``why`` says cannot be None; RuntimeError if it is."""
    if value is None:
        raise RuntimeError(f"internal invariant broken: {why}")
    return value


__all__ = ["present"]
