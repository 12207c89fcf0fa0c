"""Helpers shared by the solver benchmarks (run from the project root or anywhere)."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    # Benchmarks reuse the test instance generators (tests/solver/instances.py).
    sys.path.insert(0, str(PROJECT_ROOT))

T = TypeVar("T")


def timed(function: Callable[[], T]) -> tuple[T, float]:
    """Run ``function`` once; return its result and wall-clock seconds."""
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def median(values: list[float]) -> float:
    """Median of a non-empty list."""
    return float(statistics.median(values))


def banner(title: str, quick: bool) -> None:
    """Print a header naming the benchmark and its size."""
    size = "quick size" if quick else "full size"
    print(f"== {title} ({size}) ==")


def verdict(ok: bool) -> str:
    """'met' or 'NOT met'."""
    return "met" if ok else "NOT met"
