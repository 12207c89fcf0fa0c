"""The demand forecast the dual-price method prices capacity on, in a simulated run."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.domain import Lead
from engine.invariant import present


class Forecast:
    """A demand forecast for the dual-price method: a fixed sample of leads (``leads``, with
    ``arrival_s`` in SimPy seconds) from which each repricing takes the window it looks at.

    Synthetic streams: an independent sample of the scenario's lead model over the whole run
    plus one horizon (the replication's ``forecast`` random stream). Replayed streams: the
    file's leads moved forward one week, so the window ``[t, t + h)`` holds the leads of the
    same window a week earlier. Never the realized future. The sample is drawn on first use.
    """

    def __init__(self, draw: Callable[[float], tuple[list[Lead], np.ndarray, float]]) -> None:
        self._draw = draw
        self._leads: list[Lead] | None = None
        self._arrival = np.zeros(0)
        self._covers_s = -np.inf

    def _sample(self, until_s: float) -> None:
        if self._leads is None or until_s > self._covers_s:
            self._leads, self._arrival, self._covers_s = self._draw(until_s)

    @property
    def leads(self) -> list[Lead]:
        if self._leads is None:
            self._sample(0.0)
        return present(self._leads, "a sample is drawn before it is read")

    @property
    def arrival_s(self) -> np.ndarray:
        """(N,) SimPy seconds of each lead of ``leads``."""
        if self._leads is None:
            self._sample(0.0)
        return self._arrival

    def window(self, t_s: float, horizon_s: float) -> tuple[list[Lead], np.ndarray]:
        """The forecast leads of ``[t_s, t_s + horizon_s)`` and their rows in ``leads``."""
        self._sample(t_s + horizon_s)
        leads = present(self._leads, "a sample is drawn before it is read")
        rows = np.flatnonzero((self._arrival >= t_s) & (self._arrival < t_s + horizon_s))
        return [leads[i] for i in rows], rows
