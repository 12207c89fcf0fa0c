"""What a solve returns: an assignment, its value, a proven bound and a status."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["AssignmentResult", "SolveStatus"]


class SolveStatus(enum.Enum):
    """How a solve ended.

    OPTIMAL: the assignment is optimal (the bound equals the objective up to the documented
        value-rounding tolerance, see docs/solver.md).
    FEASIBLE: the assignment satisfies every constraint; the bound leaves a gap.
    INFEASIBLE: no assignment satisfies the constraints (proven); ``reasons`` says why.
    TIMEOUT: the time limit was hit before any feasible assignment was found.
    """

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    TIMEOUT = "timeout"


# eq=False: field-wise equality on numpy arrays is ambiguous; identity is the useful notion.
@dataclass(frozen=True, slots=True, eq=False)
class AssignmentResult:
    """Outcome of :func:`engine.solver.solve_assignment`.

    Attributes:
        assignment: ``(L,)`` int64 officer index per lead, ``-1`` for unassigned. For
            INFEASIBLE and TIMEOUT every entry is ``-1``.
        objective: sum of the original float values over assigned pairs (0.0 when nothing
            is assigned).
        bound: proven upper bound on the objective of any feasible assignment of this
            problem (``-inf`` when infeasibility is proven, ``+inf`` when nothing was proven).
        status: see :class:`SolveStatus`.
        wall_time_s: wall-clock seconds spent in the solve.
        method: ``"min_cost_flow"``, ``"cp_sat"`` or ``"trivial"``.
        reasons: human-readable explanations, filled for INFEASIBLE (which constraint cannot
            be met and why) and for TIMEOUT.
        notes: how the answer was reached (model reductions, where the bound comes from).
    """

    assignment: npt.NDArray[np.int64]
    objective: float
    bound: float
    status: SolveStatus
    wall_time_s: float
    method: str
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def gap(self) -> float:
        """Relative optimality gap ``(bound - objective) / |bound|``, >= 0.

        0.0 when the bound equals the objective (including an empty problem), ``inf`` when
        there is no finite bound or no feasible assignment.
        """
        if self.status in (SolveStatus.INFEASIBLE, SolveStatus.TIMEOUT):
            return float("inf")
        if not np.isfinite(self.bound):
            return float("inf")
        difference = max(self.bound - self.objective, 0.0)
        if difference == 0.0:
            return 0.0
        scale = abs(self.bound)
        return float("inf") if scale == 0.0 else difference / scale

    @property
    def num_assigned(self) -> int:
        """Number of leads given to an officer."""
        return int(np.count_nonzero(self.assignment >= 0))
