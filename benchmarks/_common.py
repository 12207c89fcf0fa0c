"""Helpers shared by the benchmarks (run from the project root or anywhere)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@contextmanager
def worktree(rev: str | None, where: Path) -> Iterator[Path | None]:
    """A detached checkout of ``rev`` at ``where`` (None for no revision), removed after."""
    if rev is None:
        yield None
        return
    git = ["git", "-C", str(PROJECT_ROOT), "worktree"]
    added = subprocess.run([*git, "add", "--detach", str(where), rev], capture_output=True,
                           text=True)
    if added.returncode:  # not a git checkout, or a revision it does not have (a shallow clone)
        raise SystemExit(f"cannot check out {rev!r}: {added.stderr.strip()}")
    try:
        found = subprocess.run([sys.executable, "-c", "import engine; print(engine.__file__)"],
                               cwd=where, check=True, capture_output=True, text=True).stdout
        if not Path(found.strip()).resolve().is_relative_to(where.resolve()):
            raise SystemExit(f"{rev}'s checkout does not import its own code ({found.strip()})")
        yield where
    finally:
        subprocess.run([*git, "remove", "--force", str(where)], check=False, capture_output=True)
