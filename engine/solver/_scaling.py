"""Float values to integer weights for the integer solvers, with an honest error bound.

Both OR-Tools solvers used here take integer costs. A value ``v`` becomes the weight
``w = rint(v * S)`` with ``S`` a power of two, chosen so that ``max |w| <= max_weight``.
Because ``|v * S - w| <= 1/2``, for any set of ``k`` assigned pairs

    |sum(v) - sum(w) / S| <= k / (2 S).

So if an integer solver proves ``sum(w) <= W`` for every feasible assignment, then every
feasible assignment has ``sum(v) <= W / S + k_max / (2 S)``, where ``k_max`` bounds the number
of assigned leads. When every ``v * S`` is already an integer (``exact``), the slack is zero.
Powers of two keep the multiplication exact in binary floating point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["ScaledValues", "scale_values"]


@dataclass(frozen=True, slots=True)
class ScaledValues:
    """Integer weights for float values.

    Attributes:
        weights: ``(A,)`` int64, ``rint(values * scale)``.
        scale: ``S``, a power of two (weight units per value unit).
        exact: True when ``values * scale`` were all integers (no rounding happened).
    """

    weights: npt.NDArray[np.int64]
    scale: float
    exact: bool

    def rounding_slack(self, max_assigned: int) -> float:
        """Largest possible ``|sum(v) - sum(w)/S|`` over ``max_assigned`` pairs (value units)."""
        return 0.0 if self.exact else max_assigned / (2.0 * self.scale)


def scale_values(values: npt.NDArray[np.float64], max_weight: int) -> ScaledValues:
    """Scale ``values`` by the largest power of two keeping ``|weights| <= max_weight``."""
    largest = float(np.max(np.abs(values))) if values.size else 0.0
    if largest == 0.0:
        return ScaledValues(np.zeros(values.shape, dtype=np.int64), 1.0, True)
    exponent = math.floor(math.log2(max_weight / largest))
    scale = math.ldexp(1.0, exponent)
    # floor(log2) can be off by one in floating point; step down until the bound holds.
    while largest * scale > max_weight:
        scale /= 2.0
    scaled = values * scale
    weights = np.rint(scaled)
    exact = bool(np.all(weights == scaled))
    return ScaledValues(weights.astype(np.int64), scale, exact)
