"""Independent check of an assignment against its problem.

This module deliberately imports no solver (no OR-Tools, no HiGHS): it recomputes every
constraint from the problem data with plain numpy, so a solver bug cannot hide behind a
shared model-building routine. Count-based shares use exact integer arithmetic in parts per
million; value-based constraints use float sums with a relative tolerance of
:data:`VALUE_RTOL` of the total assigned value.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.solver.problem import SHARE_SCALE, AssignmentProblem

__all__ = ["VALUE_RTOL", "assigned_arcs", "assignment_objective", "validate_assignment"]

#: Relative tolerance for value-based fairness checks (float summation noise).
VALUE_RTOL = 1e-9

_MAX_LISTED = 10


def assigned_arcs(
    problem: AssignmentProblem, assignment: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Arc index of each lead's assigned pair: ``(L,)``, ``-1`` if unassigned or ineligible."""
    out = np.full(problem.num_leads, -1, dtype=np.int64)
    leads = np.flatnonzero(assignment >= 0)
    if leads.size == 0 or problem.num_arcs == 0:
        return out
    width = max(problem.num_officers, 1)
    keys = problem.arc_lead * width + problem.arc_officer
    wanted = leads * width + assignment[leads]
    position = np.searchsorted(keys, wanted)
    position = np.minimum(position, problem.num_arcs - 1)
    found = keys[position] == wanted
    out[leads[found]] = position[found]
    return out


def assignment_objective(problem: AssignmentProblem, assignment: npt.NDArray[np.int64]) -> float:
    """Sum of the original values over assigned eligible pairs."""
    arcs = assigned_arcs(problem, assignment)
    return float(problem.arc_value[arcs[arcs >= 0]].sum())


def _listed(messages: list[str]) -> list[str]:
    if len(messages) <= _MAX_LISTED:
        return messages
    return [*messages[:_MAX_LISTED], f"... and {len(messages) - _MAX_LISTED} more like these"]


def _check_shape(
    problem: AssignmentProblem, assignment: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64] | None, list[str]]:
    array = np.asarray(assignment)
    if array.shape != (problem.num_leads,):
        return None, [f"assignment: expected shape ({problem.num_leads},), received {array.shape}"]
    if array.size and not np.issubdtype(array.dtype, np.integer):
        return None, [f"assignment: expected integer officer indices, received dtype {array.dtype}"]
    array = array.astype(np.int64)
    bad = np.flatnonzero((array < -1) | (array >= problem.num_officers))
    if bad.size:
        return None, _listed(
            [
                f"lead {i}: officer index {array[i]} outside [-1, {problem.num_officers})"
                for i in bad
            ]
        )
    return array, []


def _count_share_violations(
    label: str,
    counts: npt.NDArray[np.int64],
    share: npt.NDArray[np.float64] | None,
    total: int,
    minimum: bool,
) -> list[str]:
    if share is None:
        return []
    ppm = AssignmentProblem.share_ppm(share)
    scaled = counts * SHARE_SCALE
    bad = np.flatnonzero(scaled < ppm * total) if minimum else np.flatnonzero(scaled > ppm * total)
    word = "min" if minimum else "max"
    relation = "<" if minimum else ">"
    return [
        f"{label} {k}: {counts[k]} of {total} assigned leads "
        f"({counts[k] / max(total, 1):.6f}) {relation} {word} share {ppm[k] / SHARE_SCALE:.6f}"
        for k in bad
    ]


def validate_assignment(problem: AssignmentProblem, assignment: npt.ArrayLike) -> list[str]:
    """Check ``assignment`` against every constraint of ``problem``.

    Args:
        problem: the problem that was solved.
        assignment: ``(L,)`` officer index per lead, ``-1`` for unassigned.

    Returns:
        Human-readable violations; an empty list means the assignment is valid.
    """
    array, problems = _check_shape(problem, assignment)
    if array is None:
        return problems
    violations: list[str] = []
    arcs = assigned_arcs(problem, array)
    assigned = array >= 0
    ineligible = np.flatnonzero(assigned & (arcs < 0))
    violations += _listed(
        [f"lead {i}: officer {array[i]} is not eligible for it" for i in ineligible]
    )
    num_officers = problem.num_officers
    counts = np.bincount(array[assigned], minlength=num_officers).astype(np.int64)
    over = np.flatnonzero(counts > problem.capacity)
    violations += _listed(
        [f"officer {j}: {counts[j]} leads > capacity {problem.capacity[j]}" for j in over]
    )
    total = int(assigned.sum())
    if total < problem.min_assigned:
        violations.append(f"{total} leads assigned < min_assigned {problem.min_assigned}")

    if problem.kinds is not None and problem.max_per_kind is not None:
        kind_counts = np.zeros(problem.max_per_kind.shape, dtype=np.int64)
        np.add.at(kind_counts, (problem.kinds[assigned], array[assigned]), 1)
        kind_bad = np.argwhere(kind_counts > problem.max_per_kind)
        violations += _listed(
            [
                f"officer {j}: {kind_counts[k, j]} leads of kind {k} > max_per_kind "
                f"{problem.max_per_kind[k, j]}"
                for k, j in kind_bad
            ]
        )

    if problem.groups is not None:
        group_counts = np.bincount(
            problem.groups, weights=counts, minlength=problem.num_groups
        ).astype(np.int64)
        violations += _listed(
            _count_share_violations("group", group_counts, problem.group_min_share, total, True)
        )
        violations += _listed(
            _count_share_violations("group", group_counts, problem.group_max_share, total, False)
        )
    violations += _listed(
        _count_share_violations("officer", counts, problem.officer_min_share, total, True)
    )
    violations += _listed(
        _count_share_violations("officer", counts, problem.officer_max_share, total, False)
    )

    if problem.has_value_constraints:
        eligible_arcs = arcs[arcs >= 0]
        officer_value = np.bincount(
            problem.arc_officer[eligible_arcs],
            weights=problem.arc_value[eligible_arcs],
            minlength=num_officers,
        )
        total_value = float(officer_value.sum())
        tolerance = VALUE_RTOL * abs(total_value)
        if problem.value_share_max is not None:
            share = problem.value_share_max
            high = np.flatnonzero(officer_value > share * total_value + tolerance)
            violations += _listed(
                [
                    f"officer {j}: value {officer_value[j]:.6g} is "
                    f"{officer_value[j] / total_value:.6f} of total {total_value:.6g} "
                    f"> value_share_max {share}"
                    for j in high
                ]
            )
        if problem.value_floor is not None:
            with_capacity = problem.capacity > 0
            num_with_capacity = int(with_capacity.sum())
            if num_with_capacity:
                floor_value = problem.value_floor * total_value / num_with_capacity
                low = np.flatnonzero(with_capacity & (officer_value < floor_value - tolerance))
                violations += _listed(
                    [
                        f"officer {j}: value {officer_value[j]:.6g} < value_floor "
                        f"{problem.value_floor} x mean {total_value / num_with_capacity:.6g} "
                        f"= {floor_value:.6g}"
                        for j in low
                    ]
                )
    return violations
