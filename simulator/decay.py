"""The effect of response delay on the contact-and-qualify stage (speed to lead).

The lead response studies (Oldroyd, MIT / InsideSales.com Lead Response Management study,
2007; Oldroyd, McElheran and Elkington, "The Short Life of Online Sales Leads", Harvard
Business Review, March 2011, 1.25 million leads) report three ratios of the *odds* of
qualifying a web lead:

1. called within 5 minutes versus at 30 minutes: 21 times higher;
2. contacted within the first hour versus in the hour after: about 7 times higher;
3. contacted within the first hour versus after 24 hours or more: about 60 times higher.

``ResponseDecay`` multiplies a lead's best-case odds of contact-and-qualify by ``g(delay)``:
1 up to 5 minutes, then a power law between knots (straight lines in log delay against log
odds), flat after 24 hours. Ratio 1 is read at the two points; ratios 2 and 3 compare the mean
of ``g`` over a window of contact times (uniform within the window, the study's buckets) with
the mean over the later window (ratio 2) or with ``g`` after 24 hours (ratio 3). The knots
below solve those three equations with one power law from 30 to 120 minutes; a test checks the
three ratios (tests/simulator/test_decay.py). docs/simulator.md shows the derivation.

``flatten`` weakens the effect for sensitivity runs (``g ** (1 - flatten)``: 0 keeps the
research curve, 1 removes any effect of delay). A competitor can reach the borrower first:
with first contact after an exponential time of mean ``mean_first_contact_s``, the lead is lost
to them with ``steal_probability`` once they have; in expectation that multiplies the
probability by ``1 - steal * (1 - exp(-delay / mean))``.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from simulator.errors import ParamError

MINUTE_S = 60.0
# (delay in seconds, odds multiplier); see the module docstring and docs/simulator.md.
RESEARCH_KNOTS: tuple[tuple[float, float], ...] = (
    (5 * MINUTE_S, 1.0),
    (30 * MINUTE_S, 1.0 / 21.0),
    (60 * MINUTE_S, 0.0328390),
    (120 * MINUTE_S, 0.0226464),
    (1440 * MINUTE_S, 0.00313221),
)


@dataclass(frozen=True, slots=True)
class Competitor:
    """Another lender racing for the same borrower.

    mean_first_contact_s: mean of the competitor's (exponential) time to first contact, s.
    steal_probability: chance the lead is lost once the competitor has called first.
    """

    mean_first_contact_s: float = 3600.0
    steal_probability: float = 0.5

    def __post_init__(self) -> None:
        if not self.mean_first_contact_s > 0:
            raise ParamError("mean_first_contact_s", f"must be > 0 seconds, got "
                                                     f"{self.mean_first_contact_s!r}")
        if not 0.0 <= self.steal_probability <= 1.0:
            raise ParamError("steal_probability", f"must be in [0, 1], got "
                                                  f"{self.steal_probability!r}")

    def survival(self, delay_s: float) -> float:
        """Probability the lead is still ours after ``delay_s`` seconds."""
        return 1.0 - self.steal_probability * (1.0 - math.exp(-delay_s / self.mean_first_contact_s))


@dataclass(frozen=True, slots=True)
class ResponseDecay:
    """Odds multiplier of contact-and-qualify as a function of delay (seconds since arrival).

    knots: (delay_s, multiplier) pairs, increasing delays, non-increasing multipliers, the
        first multiplier 1; before the first knot the multiplier is 1, after the last it stays.
    flatten: in [0, 1]; the curve used is ``g ** (1 - flatten)``.
    competitor: optional competitor first contact (see ``Competitor``).
    """

    knots: tuple[tuple[float, float], ...] = RESEARCH_KNOTS
    flatten: float = 0.0
    competitor: Competitor | None = None
    _log_t: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _log_g: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _knots: tuple[np.ndarray, np.ndarray] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.knots) < 1:
            raise ParamError("knots", "needs at least one (delay_s, multiplier) pair")
        delays = [t for t, _ in self.knots]
        values = [g for _, g in self.knots]
        if any(t <= 0 for t in delays) or any(b <= a for a, b in pairwise(delays)):
            raise ParamError("knots", f"delays must be > 0 and increasing, got {delays}")
        if values[0] != 1.0 or any(not 0 < g <= 1 for g in values) or \
                any(b > a for a, b in pairwise(values)):
            raise ParamError("knots", "multipliers must start at 1 and not increase, within "
                                      f"(0, 1]; got {values}")
        if not 0.0 <= self.flatten <= 1.0:
            raise ParamError("flatten", f"must be in [0, 1], got {self.flatten!r}")
        power = 1.0 - self.flatten
        object.__setattr__(self, "_log_t", tuple(math.log(t) for t in delays))
        object.__setattr__(self, "_log_g", tuple(power * math.log(g) for g in values))
        object.__setattr__(self, "_knots", (np.array(self._log_t), np.array(self._log_g)))

    def odds_multiplier(self, delay_s: float) -> float:
        """``g(delay_s)``, without the competitor (a scalar: the simulation's hot path)."""
        log_t, log_g = self._log_t, self._log_g
        if delay_s <= 0.0:
            return math.exp(log_g[0])
        x = math.log(delay_s)
        k = bisect_right(log_t, x)
        if k == 0:
            return math.exp(log_g[0])
        if k == len(log_t):
            return math.exp(log_g[-1])
        x0, x1 = log_t[k - 1], log_t[k]
        y0, y1 = log_g[k - 1], log_g[k]
        return math.exp(y0 + (y1 - y0) * (x - x0) / (x1 - x0))

    def odds_multipliers(self, delay_s: np.ndarray) -> np.ndarray:
        """``g`` for an array of delays (seconds), same shape."""
        d = np.maximum(np.asarray(delay_s, dtype=float), 1e-9)
        return np.exp(np.interp(np.log(d), *self._knots))

    def contact_probability(self, base: float, delay_s: float) -> float:
        """Probability of contact-and-qualify at ``delay_s`` for a lead whose best-case
        probability (contact within 5 minutes, no competitor) is ``base``."""
        if base >= 1.0:
            return 1.0 if self.competitor is None else self.competitor.survival(delay_s)
        odds = base / (1.0 - base) * self.odds_multiplier(delay_s)
        p = odds / (1.0 + odds)
        if self.competitor is not None:
            p *= self.competitor.survival(delay_s)
        return p

    def contact_probabilities(self, base: np.ndarray, delay_s: np.ndarray) -> np.ndarray:
        """Vectorized ``contact_probability`` (broadcasting ``base`` against ``delay_s``)."""
        return self.with_delay_terms(base, *self.delay_terms(delay_s))

    def delay_terms(self, delay_s: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """What ``contact_probabilities`` takes from the delay alone: ``g(delay)`` and the
        chance no competitor got there first (None without a competitor). For many leads at
        the same delays, compute these once and apply them with ``with_delay_terms``."""
        survival = None
        if self.competitor is not None:
            c = self.competitor
            survival = 1.0 - c.steal_probability * (
                1.0 - np.exp(-np.asarray(delay_s, dtype=float) / c.mean_first_contact_s))
        return self.odds_multipliers(delay_s), survival

    @staticmethod
    def with_delay_terms(base: np.ndarray, g: np.ndarray, survival: np.ndarray | None
                         ) -> np.ndarray:
        """Contact probabilities from best-case probabilities ``base`` and ``delay_terms``
        (broadcasting)."""
        base = np.minimum(np.asarray(base, dtype=float), 1.0 - 1e-12)
        odds = base / (1.0 - base) * g
        p = odds / (1.0 + odds)
        return p if survival is None else p * survival

    def window_mean(self, start_s: float, end_s: float, points: int = 20001) -> float:
        """Mean of ``g`` over contact times uniform in ``[start_s, end_s]`` (for the ratios)."""
        t = np.linspace(start_s, end_s, points)
        return float(np.trapezoid(self.odds_multipliers(t), t) / (end_s - start_s))
