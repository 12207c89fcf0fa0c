"""Why a problem is infeasible: necessary conditions, each of which is a proof on its own.

Share constraints are always met by assigning nothing, so a problem can only be infeasible
when ``min_assigned > 0`` forces leads to be placed. Every check below derives a contradiction
from ``n_assigned >= min_assigned`` and one constraint family, using exact integer
arithmetic (shares in parts per million) and maximum flows for "how many leads can these
officers take at most".
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.solver.network import solve_transport
from engine.solver.problem import SHARE_SCALE, AssignmentProblem

__all__ = ["infeasibility_reasons", "max_assignable"]

IntArray = npt.NDArray[np.int64]

# Per-group maximum flows are exact but cost a min-cost flow each; above this many arcs the
# cheaper capacity / reachable-leads bound is used instead (still a valid proof when it fires).
_EXACT_FLOW_MAX_ARCS = 200_000


def max_assignable(
    problem: AssignmentProblem, officers: npt.NDArray[np.bool_] | None = None
) -> int:
    """Most leads that can be assigned (eligibility, capacity, per-kind limits).

    Args:
        problem: the problem.
        officers: ``(M,)`` mask; only arcs to these officers count (all when None).
    """
    usable = (
        np.ones(problem.num_arcs, dtype=bool) if officers is None else officers[problem.arc_officer]
    )
    arcs = np.flatnonzero(usable)
    if arcs.size == 0:
        return 0
    kind = problem.kinds[problem.arc_lead[arcs]] if problem.kinds is not None else None
    result = solve_transport(
        problem.num_leads,
        problem.arc_lead[arcs],
        problem.arc_officer[arcs],
        np.ones(arcs.shape[0], dtype=np.int64),
        problem.capacity,
        arc_kind=kind,
        kind_capacity=problem.max_per_kind,
    )
    return int(result.total_weight)


def _most_for(problem: AssignmentProblem, officers: npt.NDArray[np.bool_]) -> int:
    """Upper bound on leads the given officers can take; exact (max flow) on small problems."""
    reach = np.zeros(problem.num_leads, dtype=bool)
    reach[problem.arc_lead[officers[problem.arc_officer]]] = True
    crude = int(min(problem.capacity[officers].sum(), reach.sum()))
    if problem.num_arcs > _EXACT_FLOW_MAX_ARCS:
        return crude
    return min(crude, max_assignable(problem, officers))


def _ceil_share(share_ppm: int, count: int) -> int:
    """Smallest integer ``k`` with ``k * 1e6 >= share_ppm * count``."""
    return -(-share_ppm * count // SHARE_SCALE)


def infeasibility_reasons(problem: AssignmentProblem) -> list[str]:
    """Reasons, each a proof, why no assignment meets the constraints (empty: none found)."""
    needed = problem.min_assigned
    if needed <= 0:
        return []
    reasons: list[str] = []
    most = max_assignable(problem)
    if most < needed:
        reasons.append(
            f"min_assigned={needed} but at most {most} leads can be assigned given eligibility, "
            f"capacities (total {int(problem.capacity.sum())}) and per-kind limits"
        )
        return reasons
    if problem.groups is not None:
        groups = problem.groups
        if problem.group_min_share is not None:
            ppm = AssignmentProblem.share_ppm(problem.group_min_share)
            if ppm.sum() > SHARE_SCALE:
                reasons.append(
                    f"group_min_share values sum to {ppm.sum() / SHARE_SCALE:.6f} > 1, impossible "
                    f"once any lead is assigned (min_assigned={needed})"
                )
            for g in np.flatnonzero(ppm > 0):
                required = _ceil_share(int(ppm[g]), needed)
                members = groups == g
                most_g = _most_for(problem, members)
                if most_g < required:
                    reasons.append(
                        f"group {g} min share {ppm[g] / SHARE_SCALE:.6f} needs at least {required} "
                        f"of the >= {needed} assigned leads, but its {int(members.sum())} officers "
                        f"can take at most {most_g} "
                        f"(capacity {int(problem.capacity[members].sum())})"
                    )
        if problem.group_max_share is not None:
            ppm = AssignmentProblem.share_ppm(problem.group_max_share)
            if ppm.sum() < SHARE_SCALE:
                reasons.append(
                    f"group_max_share values sum to {ppm.sum() / SHARE_SCALE:.6f} < 1: the groups "
                    f"together cannot take all assigned leads (min_assigned={needed})"
                )
    if problem.officer_min_share is not None:
        ppm = AssignmentProblem.share_ppm(problem.officer_min_share)
        if ppm.sum() > SHARE_SCALE:
            reasons.append(
                f"officer_min_share values sum to {ppm.sum() / SHARE_SCALE:.6f} > 1, impossible "
                f"once any lead is assigned (min_assigned={needed})"
            )
        eligible = np.bincount(problem.arc_officer, minlength=problem.num_officers)
        for j in np.flatnonzero(ppm > 0):
            required = _ceil_share(int(ppm[j]), needed)
            most_j = int(min(problem.capacity[j], eligible[j]))
            if most_j < required:
                reasons.append(
                    f"officer {j} min share {ppm[j] / SHARE_SCALE:.6f} needs at least {required} "
                    f"of the >= {needed} assigned leads, but it can take at most {most_j} "
                    f"(capacity {problem.capacity[j]}, {eligible[j]} eligible leads)"
                )
    if problem.officer_max_share is not None:
        ppm = AssignmentProblem.share_ppm(problem.officer_max_share)
        if ppm.sum() < SHARE_SCALE:
            reasons.append(
                f"officer_max_share values sum to {ppm.sum() / SHARE_SCALE:.6f} < 1: the officers "
                f"together cannot take all assigned leads (min_assigned={needed})"
            )
    all_positive = problem.num_arcs > 0 and bool(problem.arc_value.min() > 0)
    if all_positive and problem.has_value_constraints:
        # Every assignment then has total value V > 0.
        with_capacity = problem.capacity > 0
        reachable = np.zeros(problem.num_officers, dtype=bool)
        reachable[problem.arc_officer] = True
        reachable &= with_capacity
        if problem.value_share_max is not None:
            ppm_value = int(AssignmentProblem.share_ppm(problem.value_share_max))
            if ppm_value * int(reachable.sum()) < SHARE_SCALE:
                reasons.append(
                    f"value_share_max {ppm_value / SHARE_SCALE:.6f} x "
                    f"{int(reachable.sum())} officers "
                    "who can receive value < 1: the shares cannot add up to the total value "
                    f"(every value is positive and min_assigned={needed})"
                )
        if problem.value_floor is not None and problem.value_floor > 0:
            stranded = np.flatnonzero(with_capacity & ~reachable)
            if stranded.size:
                reasons.append(
                    f"value_floor {problem.value_floor} requires value for every officer with "
                    f"capacity, but officer(s) {stranded[:5].tolist()} have no eligible lead "
                    f"(every value is positive and min_assigned={needed})"
                )
    return reasons
