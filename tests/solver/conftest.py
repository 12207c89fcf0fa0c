"""Shared helpers for solver tests: brute force over tiny problems and result checks."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt

from engine.solver import AssignmentProblem, AssignmentResult, SolveStatus, validate_assignment


def brute_force(problem: AssignmentProblem) -> tuple[float, npt.NDArray[np.int64] | None]:
    """Best objective over every assignment that passes the validator (tiny problems only).

    Returns ``(-inf, None)`` when no assignment is valid.
    """
    options = [
        [-1, *problem.arc_officer[problem.arc_lead == lead].tolist()]
        for lead in range(problem.num_leads)
    ]
    values = {
        (int(i), int(j)): float(v)
        for i, j, v in zip(problem.arc_lead, problem.arc_officer, problem.arc_value, strict=True)
    }
    best_value = -np.inf
    best: npt.NDArray[np.int64] | None = None
    for choice in itertools.product(*options):
        assignment = np.asarray(choice, dtype=np.int64)
        if validate_assignment(problem, assignment):
            continue
        total = sum(values[(i, j)] for i, j in enumerate(choice) if j >= 0)
        if total > best_value + 1e-12:
            best_value, best = total, assignment
    return best_value, best


def check_result(problem: AssignmentProblem, result: AssignmentResult) -> None:
    """Every returned assignment is valid, its objective is recomputed, and the bound holds."""
    assert result.assignment.shape == (problem.num_leads,)
    if result.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
        assert validate_assignment(problem, result.assignment) == []
        arcs = {
            (int(i), int(j)): float(v)
            for i, j, v in zip(
                problem.arc_lead, problem.arc_officer, problem.arc_value, strict=True
            )
        }
        recomputed = sum(arcs[(i, int(j))] for i, j in enumerate(result.assignment) if j >= 0)
        assert np.isclose(result.objective, recomputed, rtol=1e-12, atol=1e-12)
        assert result.objective <= result.bound + 1e-9 * max(1.0, abs(result.bound))
    else:
        assert np.all(result.assignment == -1)
