"""Instance generators shared by the solver tests and the solver benchmarks.

Values follow one story throughout: the expected value of giving lead ``i`` to officer ``j``
is ``quality_i x skill_j x noise_ij`` (lognormal lead quality and officer skill, uniform
noise), so good leads are worth more to everyone and skilled officers convert more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def batch_instance(
    *,
    num_leads: int = 10_000,
    num_officers: int = 1_000,
    num_states: int = 50,
    states_per_officer: int = 8,
    capacity_low: int = 5,
    capacity_high: int = 13,
    seed: int = 0,
) -> tuple[FloatArray, IntArray, IntArray]:
    """A licensing-structured batch: a lead is eligible iff its state is one of the officer's.

    Returns:
        ``(value, capacity, state)``: ``(L, M)`` values with ``NaN`` for ineligible pairs,
        ``(M,)`` capacities drawn uniformly in ``[capacity_low, capacity_high]`` (mean 9 per
        officer by default, so 1,000 officers hold ~0.9 x 10,000 leads: capacity is scarce),
        and ``(L,)`` lead states.
    """
    rng = np.random.default_rng(seed)
    licensed = np.zeros((num_officers, num_states), dtype=bool)
    for officer in range(num_officers):
        licensed[officer, rng.choice(num_states, states_per_officer, replace=False)] = True
    state = rng.integers(0, num_states, num_leads)
    eligible = licensed[:, state].T
    quality = rng.lognormal(0.0, 0.5, num_leads)
    skill = rng.lognormal(0.0, 0.3, num_officers)
    noise = rng.uniform(0.5, 1.5, (num_leads, num_officers))
    value = np.where(eligible, quality[:, None] * skill[None, :] * noise, np.nan)
    capacity = rng.integers(capacity_low, capacity_high + 1, num_officers)
    return value, capacity.astype(np.int64), state.astype(np.int64)


@dataclass(frozen=True, slots=True)
class OnlineMarket:
    """A stationary lead stream with known probabilities.

    Each lead is eligible for ``eligible_per_lead`` officers drawn uniformly without
    replacement; its value for officer ``j`` is ``quality x skill_j x noise``.

    Attributes:
        skill: ``(M,)`` officer skills (fixed for the market).
        eligible_per_lead: officers per lead.
    """

    skill: FloatArray
    eligible_per_lead: int = 50

    @classmethod
    def create(
        cls, num_officers: int, rng: np.random.Generator, eligible_per_lead: int = 50
    ) -> OnlineMarket:
        """A market with lognormal(0, 0.3) officer skills."""
        return cls(rng.lognormal(0.0, 0.3, num_officers), eligible_per_lead)

    @property
    def num_officers(self) -> int:
        """``M``."""
        return int(self.skill.shape[0])

    def draw(self, num_leads: int, rng: np.random.Generator) -> tuple[IntArray, FloatArray]:
        """``(officers, values)``: two ``(n, E)`` arrays for ``n`` independent leads."""
        num_officers = self.num_officers
        officers = np.empty((num_leads, self.eligible_per_lead), dtype=np.int64)
        block = 4096  # bounded memory for the random keys
        for start in range(0, num_leads, block):
            stop = min(start + block, num_leads)
            keys = rng.random((stop - start, num_officers))
            officers[start:stop] = np.argpartition(keys, self.eligible_per_lead, axis=1)[
                :, : self.eligible_per_lead
            ]
        quality = rng.lognormal(0.0, 0.5, num_leads)
        noise = rng.uniform(0.5, 1.5, (num_leads, self.eligible_per_lead))
        values = quality[:, None] * self.skill[officers] * noise
        return officers, values

    def sample(self, num_leads: int, rng: np.random.Generator) -> sp.csr_array:
        """A forecast sample: ``(n, M)`` sparse matrix of eligible pairs (ForecastSource)."""
        officers, values = self.draw(num_leads, rng)
        rows = np.repeat(np.arange(num_leads), self.eligible_per_lead)
        return sp.csr_array(
            (values.reshape(-1), (rows, officers.reshape(-1))), shape=(num_leads, self.num_officers)
        )


def small_random_problem_arrays(
    rng: np.random.Generator, num_leads: int, num_officers: int, density: float = 0.6
) -> tuple[FloatArray, IntArray]:
    """A small dense instance for property tests: ``(value with NaN, capacity)``."""
    value = np.round(rng.uniform(0.0, 10.0, (num_leads, num_officers)), 2)
    value[rng.random((num_leads, num_officers)) > density] = np.nan
    capacity = rng.integers(0, 3, num_officers).astype(np.int64)
    return value, capacity
