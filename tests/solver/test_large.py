"""The large-problem path (Lagrangian bound, flow roundings, CP-SAT search) and time limits."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from engine.solver import AssignmentProblem, SolveStatus, solve_assignment
from engine.solver.solve import EXACT_MODEL_MAX_ARCS

from .conftest import check_result
from .instances import batch_instance


def _medium(**side: Any) -> AssignmentProblem:
    value, capacity, _ = batch_instance(num_leads=1_500, num_officers=150, seed=4)
    return AssignmentProblem.from_arrays(value, capacity, **side)


def test_time_limit_returns_feasible_or_timeout_not_optimal() -> None:
    """A limit too short to prove anything yields FEASIBLE (valid, bounded) or TIMEOUT, on time."""
    value, capacity, _ = batch_instance(num_leads=600, num_officers=60, seed=1)
    problem = AssignmentProblem.from_arrays(
        value, capacity, value_share_max=2.5 / 60, time_limit_s=0.3
    )
    assert problem.num_arcs <= EXACT_MODEL_MAX_ARCS
    started = time.perf_counter()
    result = solve_assignment(problem)
    elapsed = time.perf_counter() - started
    check_result(problem, result)
    assert result.status in (SolveStatus.FEASIBLE, SolveStatus.TIMEOUT)
    assert result.gap > 0
    assert elapsed < 0.3 + 1.5
    if result.status is SolveStatus.TIMEOUT:
        assert result.reasons and "time limit" in result.reasons[0]


@pytest.mark.slow
def test_large_value_share_max_is_valid_with_small_gap() -> None:
    """Above the exact-model size the answer is valid, below the proven bound, within 2%."""
    problem = _medium(value_share_max=2.5 / 150, time_limit_s=4.0)
    assert problem.num_arcs > EXACT_MODEL_MAX_ARCS
    result = solve_assignment(problem)
    check_result(problem, result)
    unconstrained = solve_assignment(_medium())
    assert result.method == "cp_sat" and result.status in (
        SolveStatus.FEASIBLE,
        SolveStatus.OPTIMAL,
    )
    assert result.bound <= unconstrained.bound + 1e-9
    assert result.gap < 0.02


@pytest.mark.slow
def test_large_min_rows_are_met() -> None:
    """Min-type rows at scale (value floor, group min share with min_assigned) are met."""
    groups = np.arange(150) % 5
    problem = _medium(
        value_floor=0.3,
        groups=groups,
        group_min_share=[0.25, 0.0, 0.0, 0.0, 0.0],
        min_assigned=1_000,
        time_limit_s=5.0,
    )
    result = solve_assignment(problem)
    check_result(problem, result)
    assert result.status in (SolveStatus.FEASIBLE, SolveStatus.OPTIMAL)
    assert result.num_assigned >= 1_000


@pytest.mark.slow
def test_large_group_max_share_and_kinds() -> None:
    """Count rows and per-kind limits together at scale: valid and bounded."""
    rng = np.random.default_rng(9)
    problem = _medium(
        groups=np.arange(150) % 3,
        group_max_share=[0.3, 0.5, 0.5],
        kinds=rng.integers(0, 3, 1_500),
        max_per_kind=np.full((3, 150), 4),
        time_limit_s=4.0,
    )
    result = solve_assignment(problem)
    check_result(problem, result)
    assert result.status in (SolveStatus.FEASIBLE, SolveStatus.OPTIMAL)
    assert result.gap < 0.02
