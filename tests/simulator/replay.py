"""A run's engine decisions recorded, then replayed. ``engine.decide`` is pure
(docs/architecture.md): a decision's only effect is the ``Decision`` it returns, which the
lifecycle carries out. So a run whose every call to it is answered, in order, from a
recording of the same run is the same run. The test of that is in ``test_mechanics.py``;
``benchmarks/bench_simulator.py`` uses the replay to time a run whose decisions cost nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import numpy as np

from engine.decide import Decision
from engine.lifecycle import Lifecycle
from simulator.model import RunResult

# What a replayed run must give as the recording run did: each lead's officer, times,
# outcomes and records.
SAME = ("officer", "offered_s", "assigned_s", "contact_s", "contacted", "application",
        "funded", "p_funded", "open_at_assign", "propensity", "sla_breaches", "held",
        "abandoned", "given_up_s", "intervals", "refunded")


@contextmanager
def _deciding(answer: Callable[..., Decision]) -> Iterator[None]:
    """Every decision the lifecycle asks for (``Lifecycle._decide``) made by ``answer``."""
    decide = Lifecycle._decide
    Lifecycle._decide = answer  # type: ignore[method-assign]
    try:
        yield
    finally:
        Lifecycle._decide = decide  # type: ignore[method-assign]


def recorded(run: Callable[[], RunResult]) -> tuple[RunResult, list[Decision]]:
    """``run()`` and the decisions its lifecycle made, in the order it asked for them."""
    made: list[Decision] = []
    decide = Lifecycle._decide

    def recording(self: Lifecycle, *args: Any) -> Decision:
        decision = decide(self, *args)
        made.append(decision)
        return decision

    with _deciding(recording):
        return run(), made


class RanOut(Exception):
    """The replayed run asked for more decisions than were recorded: it went another way."""


def _next(answers: Iterator[Decision], *_: Any) -> Decision:
    found = next(answers, None)
    if found is None:
        raise RanOut("the run asked for a decision past the end of the recording")
    return found


def replayed(run: Callable[[], RunResult], made: list[Decision]) -> tuple[RunResult, bool]:
    """``run()`` with each decision answered from ``made`` in order, and whether it asked for
    every one of them (one more raises ``RanOut``)."""
    answers = iter(made)
    with _deciding(partial(_next, answers)):
        result = run()
    return result, next(answers, None) is None


def same_run(a: RunResult, b: RunResult) -> bool:
    """Whether two runs gave every lead the same officer, times, outcomes and records, and
    the same events."""
    same = all(np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True) for f in SAME)
    if a.events is None or b.events is None:
        return same and a.events is b.events
    return same and a.events.keys() == b.events.keys() and all(
        np.array_equal(a.events[k], b.events[k]) for k in a.events)
