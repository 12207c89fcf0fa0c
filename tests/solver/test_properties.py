"""Property tests on random tiny problems, checked against brute force."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.solver import AssignmentProblem, SolveStatus, solve_assignment
from engine.solver.lagrangian import LagrangianDual
from engine.solver.rows import compile_rows

from .conftest import brute_force, check_result

# SOLVER_EXAMPLES raises the example count for a deeper local run.
SETTINGS = settings(
    max_examples=int(os.environ.get("SOLVER_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _random_problem(
    seed: int, num_leads: int, num_officers: int, integer: bool, side: bool
) -> AssignmentProblem:
    rng = np.random.default_rng(seed)
    if integer:
        value = rng.integers(0, 10, (num_leads, num_officers)).astype(float)
    else:
        value = rng.uniform(0.0, 10.0, (num_leads, num_officers))
    value[rng.random((num_leads, num_officers)) < 0.3] = np.nan
    capacity = rng.integers(0, 3, num_officers)
    options: dict[str, Any] = {}
    if side:
        groups = rng.integers(0, 2, num_officers)
        pick = rng.integers(0, 7)
        if pick == 0:
            options = {"groups": groups, "group_min_share": rng.choice([0.0, 0.25, 0.5], 2)}
        elif pick == 1:
            options = {"groups": groups, "group_max_share": rng.choice([0.5, 0.75, 1.0], 2)}
        elif pick == 2:
            options = {"officer_max_share": float(rng.choice([0.4, 0.5, 0.7]))}
        elif pick == 3:
            options = {"officer_min_share": float(rng.choice([0.1, 0.2]))}
        elif pick == 4:
            options = {
                "kinds": rng.integers(0, 2, num_leads),
                "max_per_kind": rng.integers(0, 2, (2, num_officers)),
            }
        elif pick == 5:
            options = {"value_share_max": float(rng.choice([0.5, 0.6, 0.8]))}
        else:
            options = {"value_floor": float(rng.choice([0.2, 0.5]))}
        if rng.random() < 0.5:
            options["min_assigned"] = int(rng.integers(0, num_leads + 1))
    return AssignmentProblem.from_arrays(value, capacity, **options)


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.integers(1, 3))
def test_min_cost_flow_matches_brute_force(seed: int, num_leads: int, num_officers: int) -> None:
    """Without side constraints the flow optimum equals brute force and the bound covers it."""
    problem = _random_problem(seed, num_leads, num_officers, integer=False, side=False)
    result = solve_assignment(problem)
    check_result(problem, result)
    optimum, _ = brute_force(problem)
    assert result.status is SolveStatus.OPTIMAL
    assert abs(result.objective - optimum) <= 1e-6
    assert result.bound >= optimum - 1e-12


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.integers(1, 3))
def test_side_constrained_integer_values_match_brute_force(
    seed: int, num_leads: int, num_officers: int
) -> None:
    """With integer values every model is exact: CP-SAT proves the brute-force optimum."""
    problem = _random_problem(seed, num_leads, num_officers, integer=True, side=True)
    result = solve_assignment(problem)
    check_result(problem, result)
    optimum, _ = brute_force(problem)
    if optimum == -np.inf:
        assert result.status is SolveStatus.INFEASIBLE
        return
    assert result.status is SolveStatus.OPTIMAL, result
    assert abs(result.objective - optimum) <= 1e-9
    assert abs(result.bound - optimum) <= 1e-6 * max(1.0, optimum)


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.integers(1, 3))
def test_side_constrained_float_values_are_valid_and_bounded(
    seed: int, num_leads: int, num_officers: int
) -> None:
    """With float values the answer is valid, never beats brute force, and the bound covers it."""
    problem = _random_problem(seed, num_leads, num_officers, integer=False, side=True)
    result = solve_assignment(problem)
    check_result(problem, result)
    optimum, _ = brute_force(problem)
    if result.status is SolveStatus.INFEASIBLE:
        assert optimum == -np.inf
        return
    if optimum == -np.inf:
        assert result.status is SolveStatus.TIMEOUT
        return
    assert result.objective <= optimum + 1e-9
    assert result.bound >= optimum - 1e-9 * max(1.0, optimum)


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.integers(1, 3))
def test_lagrangian_bound_covers_optimum_for_any_multipliers(
    seed: int, num_leads: int, num_officers: int
) -> None:
    """D(y) and the flow Lagrangian are upper bounds for every y >= 0, not just optimal ones."""
    problem = _random_problem(seed, num_leads, num_officers, integer=False, side=True)
    optimum, _ = brute_force(problem)
    if optimum == -np.inf or problem.num_arcs == 0:
        return
    dual = LagrangianDual(problem, compile_rows(problem))
    rng = np.random.default_rng(seed)
    for _ in range(3):
        y = rng.exponential(1.0, dual.size) * (rng.random(dual.size) < 0.5)
        assert dual.evaluate(y).bound >= optimum - 1e-9
        flow_bound, _ = dual.flow_bound(y, problem.num_leads)
        assert flow_bound >= optimum - 1e-9
