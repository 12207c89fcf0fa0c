"""Online assignment: leads arrive one at a time and must be placed (or held) at once.

Two policies share one call shape, ``choose(values_row, remaining_capacity) -> officer``:

* :func:`greedy_choice` gives the lead to the eligible officer with capacity left and the
  highest value. It ignores that capacity spent now is missing later.
* :class:`DualPriceAssigner` charges each officer a capacity price ``mu_j`` and gives the lead
  to the eligible officer with capacity left maximising ``value - mu_j``, holding the lead
  (``-1``) when no officer clears its price. Prices are the capacity duals of the assignment
  LP on a *forecast* of the remaining horizon (:func:`engine.solver.prices.capacity_prices`),
  with the remaining capacity scaled to the forecast size, and they are re-solved each time
  the remaining horizon halves (and at the start). This is re-solving a fluid (LP)
  approximation with the current state, as in the dynamic-learning and re-solving bid-price
  literature; see docs/solver.md for references and the measured effect.

The forecast is a :class:`ForecastSource`: anything that can draw value rows for future
leads. It must not see the realised future: a separate sample of the same distribution
(e.g. recent history scored against today's roster) or the observed prefix.

Ties are broken by the lowest officer index, so both policies are deterministic given
their inputs; randomness (forecast draws) comes only from the ``np.random.Generator`` passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from engine.solver.prices import PriceMethod, capacity_prices

__all__ = [
    "DEFAULT_REPRICE_FRACTIONS",
    "DualPriceAssigner",
    "ForecastSource",
    "PoolForecast",
    "greedy_choice",
    "price_choice",
]

FloatArray = npt.NDArray[np.float64]

#: Re-solve at the start and whenever the remaining horizon halves (1, 1/2, ..., 1/64 left).
DEFAULT_REPRICE_FRACTIONS: tuple[float, ...] = tuple(1.0 - 0.5**k for k in range(7))


class ForecastSource(Protocol):
    """Draws value rows for leads expected later (never the realised future)."""

    def sample(self, num_leads: int, rng: np.random.Generator) -> FloatArray | sp.csr_array:
        """``(num_leads, M)`` values, ``NaN`` (or absent sparse entry) = ineligible."""
        ...


@dataclass(frozen=True, slots=True)
class PoolForecast:
    """Forecast by resampling rows of a stored sample (bootstrap).

    Attributes:
        values: ``(P, M)`` value rows of past or simulated leads against the current roster,
            ``NaN`` = ineligible; or a scipy sparse CSR matrix of eligible pairs.
    """

    values: FloatArray | sp.csr_array

    def sample(self, num_leads: int, rng: np.random.Generator) -> FloatArray | sp.csr_array:
        """Rows drawn uniformly with replacement."""
        rows = rng.integers(0, self.values.shape[0], size=num_leads)
        return self.values[rows]


def _eligible_with_room(
    values_row: FloatArray, remaining_capacity: npt.ArrayLike
) -> npt.NDArray[np.bool_]:
    return ~np.isnan(values_row) & (np.asarray(remaining_capacity) > 0)


def greedy_choice(values_row: FloatArray, remaining_capacity: npt.ArrayLike) -> int:
    """Eligible officer with capacity left and the highest value, or -1.

    Args:
        values_row: ``(M,)`` value of the lead for each officer, ``NaN`` = ineligible.
        remaining_capacity: ``(M,)`` leads each officer can still take.
    """
    row = np.asarray(values_row, dtype=np.float64)
    scores = np.where(_eligible_with_room(row, remaining_capacity), row, -np.inf)
    best = int(np.argmax(scores))
    return best if np.isfinite(scores[best]) else -1


def price_choice(
    values_row: FloatArray, remaining_capacity: npt.ArrayLike, prices: FloatArray
) -> int:
    """Eligible officer with capacity left maximising ``value - price`` if that is >= 0, else -1."""
    row = np.asarray(values_row, dtype=np.float64)
    scores = np.where(_eligible_with_room(row, remaining_capacity), row - prices, -np.inf)
    best = int(np.argmax(scores))
    return best if scores[best] >= 0 else -1


class DualPriceAssigner:
    """Online dual-price (bid-price) policy with scheduled re-solving on a forecast.

    Args:
        capacity: ``(M,)`` capacity of each officer over the horizon.
        horizon_leads: number of leads expected over the horizon (>= 1).
        forecast: source of forecast value rows for future leads.
        rng: generator for forecast draws.
        reprice_fractions: fractions of the horizon (in [0, 1)) after which prices are
            re-solved; the default re-solves whenever the remaining horizon halves.
        forecast_leads: most forecast leads per re-solve (fewer when fewer remain).
        method: LP method for :func:`~engine.solver.prices.capacity_prices`.

    Attributes:
        prices_: ``(M,)`` current capacity prices (value units per lead).
        leads_seen_: leads offered to :meth:`choose` so far.
        reprices_: number of re-solves so far.
    """

    def __init__(
        self,
        capacity: npt.ArrayLike,
        *,
        horizon_leads: int,
        forecast: ForecastSource,
        rng: np.random.Generator,
        reprice_fractions: tuple[float, ...] = DEFAULT_REPRICE_FRACTIONS,
        forecast_leads: int = 5000,
        method: PriceMethod = "network",
    ) -> None:
        capacity_array = np.asarray(capacity, dtype=np.float64).reshape(-1)
        if (
            capacity_array.size == 0
            or capacity_array.min() < 0
            or not np.all(np.isfinite(capacity_array))
        ):
            raise ValueError(
                "capacity: expected a non-empty (M,) array of finite values >= 0, "
                f"received {capacity_array}"
            )
        if horizon_leads < 1:
            raise ValueError(f"horizon_leads: expected an int >= 1, received {horizon_leads}")
        if forecast_leads < 1:
            raise ValueError(f"forecast_leads: expected an int >= 1, received {forecast_leads}")
        fractions = sorted(set(float(f) for f in reprice_fractions))
        if not fractions or fractions[0] < 0 or fractions[-1] >= 1:
            raise ValueError(
                f"reprice_fractions: expected values in [0, 1), received {reprice_fractions}"
            )
        self.capacity = capacity_array
        self.horizon_leads = int(horizon_leads)
        self.forecast = forecast
        self.rng = rng
        self.forecast_leads = int(forecast_leads)
        self.method: PriceMethod = method
        self._checkpoints = sorted({int(np.floor(f * self.horizon_leads)) for f in fractions})
        self._next = 0
        self.prices_ = np.zeros(capacity_array.shape[0])
        self.leads_seen_ = 0
        self.reprices_ = 0

    def reprice(self, remaining_capacity: npt.ArrayLike) -> FloatArray:
        """Re-solve the prices on a fresh forecast of the remaining horizon.

        Args:
            remaining_capacity: ``(M,)`` leads each officer can still take.

        Returns:
            The new ``(M,)`` prices (also stored in ``prices_``).
        """
        remaining = np.asarray(remaining_capacity, dtype=np.float64)
        leads_left = max(self.horizon_leads - self.leads_seen_, 1)
        sample_size = min(self.forecast_leads, leads_left)
        sample = self.forecast.sample(sample_size, self.rng)
        # Capacity for the forecast: what is left, in proportion to the forecast's share of
        # the leads still to come.
        scaled = np.maximum(remaining, 0.0) * (sample_size / leads_left)
        self.prices_ = capacity_prices(sample, scaled, method=self.method)
        self.reprices_ += 1
        return self.prices_

    def choose(self, values_row: FloatArray, remaining_capacity: npt.ArrayLike) -> int:
        """Officer for the arriving lead (re-pricing first when a checkpoint is due), or -1.

        Args:
            values_row: ``(M,)`` value of this lead for each officer, ``NaN`` = ineligible.
            remaining_capacity: ``(M,)`` leads each officer can still take.
        """
        while (
            self._next < len(self._checkpoints)
            and self.leads_seen_ >= self._checkpoints[self._next]
        ):
            self.reprice(remaining_capacity)
            # Several checkpoints at the same lead count collapse into one re-solve.
            while (
                self._next < len(self._checkpoints)
                and self.leads_seen_ >= self._checkpoints[self._next]
            ):
                self._next += 1
        self.leads_seen_ += 1
        return price_choice(values_row, remaining_capacity, self.prices_)
