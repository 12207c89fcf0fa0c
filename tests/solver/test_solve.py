"""solve_assignment on tiny hand-checkable instances, one constraint at a time."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from engine.solver import AssignmentProblem, SolveStatus, solve_assignment

from .conftest import check_result

NAN = np.nan


def _solve(value: Any, capacity: Any, **side: Any) -> tuple[AssignmentProblem, Any]:
    problem = AssignmentProblem.from_arrays(
        np.asarray(value, dtype=float), np.asarray(capacity), **side
    )
    result = solve_assignment(problem)
    check_result(problem, result)
    return problem, result


# ---------------------------------------------------------------------- transportation
def test_min_cost_flow_finds_known_optimum() -> None:
    """Lead 0 yields officer 0 to lead 1 because 4 + 3 beats 5 + 1."""
    _, result = _solve([[5, 4], [3, NAN], [NAN, 1]], [1, 1])
    assert result.method == "min_cost_flow" and result.status is SolveStatus.OPTIMAL
    assert result.assignment.tolist() == [1, 0, -1]
    assert result.objective == 7.0


def test_min_cost_flow_bound_equals_objective_for_integer_values() -> None:
    """Integer values scale exactly, so the proven bound is the objective itself."""
    _, result = _solve([[5, 4], [3, NAN], [NAN, 1]], [1, 1])
    assert result.bound == pytest.approx(7.0, abs=1e-9)
    assert result.gap == pytest.approx(0.0, abs=1e-12)


def test_min_cost_flow_leaves_negative_value_leads_unassigned() -> None:
    """A lead is never assigned at a loss when it may stay unassigned."""
    _, result = _solve([[-1.0, NAN], [2.0, -3.0]], [1, 1])
    assert result.assignment.tolist() == [-1, 0]
    assert result.objective == 2.0


def test_min_cost_flow_prefers_value_over_count() -> None:
    """Maximum value, not maximum cardinality: one 10 beats two 4s sharing the same slot."""
    _, result = _solve([[10.0, NAN], [NAN, 1.0], [4.0, NAN]], [1, 1])
    assert result.assignment.tolist() == [0, 1, -1]


def test_min_cost_flow_bound_is_honest_for_float_values() -> None:
    """With rounded weights the bound still covers the float objective and is within the slack."""
    rng = np.random.default_rng(3)
    value = rng.uniform(0, 1, (40, 8))
    _, result = _solve(value, np.full(8, 3))
    assert result.objective <= result.bound <= result.objective + 40 / 2**30 * 2


def test_trivial_problem_without_capacity() -> None:
    """No capacity: nothing to decide, method 'trivial', empty assignment."""
    _, result = _solve([[1.0, 2.0]], [0, 0])
    assert result.method == "trivial" and result.status is SolveStatus.OPTIMAL
    assert result.assignment.tolist() == [-1] and result.objective == 0.0 and result.bound == 0.0


def test_trivial_problem_with_min_assigned_is_infeasible() -> None:
    """No usable arc and leads required: INFEASIBLE with a reason, not an exception."""
    _, result = _solve([[NAN, NAN]], [1, 1], min_assigned=1)
    assert result.status is SolveStatus.INFEASIBLE
    assert "no lead can be assigned" in result.reasons[0]


# ---------------------------------------------------------------------- side constraints
FEASIBLE_CASES: list[tuple[str, Any, Any, dict[str, Any], float]] = [
    # count_1 >= 0.5 n: with 3 leads two must go to the cheap officer 1: 10 + 1 + 1.
    (
        "group min share",
        [[10, 1]] * 3,
        [3, 3],
        {"groups": [0, 1], "group_min_share": [0.0, 0.5]},
        12.0,
    ),
    # count_0 <= 0.5 n: at most one of three to officer 0.
    (
        "group max share",
        [[10, 1]] * 3,
        [3, 3],
        {"groups": [0, 1], "group_max_share": [0.5, 1.0]},
        12.0,
    ),
    ("officer min share", [[10, 1]] * 3, [3, 3], {"officer_min_share": [0.0, 0.5]}, 12.0),
    # count_0 <= 0.5 n with four leads: 2 x 10 + 2 x 1.
    ("officer max share", [[10, 1]] * 4, [4, 4], {"officer_max_share": 0.5}, 22.0),
    # Officer 0 takes one lead of each kind.
    ("kinds", [[5, 1]] * 3, [3, 3], {"kinds": [0, 0, 1], "max_per_kind": [[1, 3], [1, 3]]}, 11.0),
    # One lead each: officer 0 holds 6 / 10 = 0.6 of the value, exactly the cap.
    ("value share max", [[6, 4], [6, 4]], [2, 2], {"value_share_max": 0.6}, 10.0),
    # V_1 >= 0.5 x V / 2 forces officer 1 to hold at least a quarter: 6 + 1 + 1.
    ("value floor", [[6, 1]] * 3, [3, 3], {"value_floor": 0.5}, 8.0),
    # Two leads required; the second-best pair is forced in.
    ("min assigned", [[5, NAN], [4, 1]], [1, 1], {"min_assigned": 2}, 6.0),
]


@pytest.mark.parametrize(
    ("case", "value", "capacity", "side", "optimum"),
    FEASIBLE_CASES,
    ids=[c[0] for c in FEASIBLE_CASES],
)
def test_side_constraint_reaches_known_optimum(
    case: str, value: Any, capacity: Any, side: dict[str, Any], optimum: float
) -> None:
    """Each side constraint alone: the solver proves the hand-computed optimum."""
    _, result = _solve(value, capacity, **side)
    assert result.status is SolveStatus.OPTIMAL, result
    assert result.objective == pytest.approx(optimum)
    assert result.bound == pytest.approx(optimum, rel=1e-9)


INFEASIBLE_CASES: list[tuple[str, Any, Any, dict[str, Any], str]] = [
    (
        "too few assignable",
        [[5, NAN], [4, NAN]],
        [1, 1],
        {"min_assigned": 2},
        "at most 1 leads can be assigned",
    ),
    (
        "group min share",
        [[1, 1]] * 3,
        [3, 1],
        {"groups": [0, 1], "group_min_share": [0.0, 0.5], "min_assigned": 3},
        "group 1 min share 0.500000 needs at least 2",
    ),
    (
        "group max shares below one",
        [[1, 1]] * 2,
        [2, 2],
        {"groups": [0, 1], "group_max_share": [0.3, 0.3], "min_assigned": 1},
        "group_max_share values sum to 0.600000 < 1",
    ),
    (
        "officer min shares above one",
        [[1, 1]] * 2,
        [2, 2],
        {"officer_min_share": 0.6, "min_assigned": 1},
        "officer_min_share values sum to 1.200000 > 1",
    ),
    (
        "officer min share capacity",
        [[1, 1]] * 4,
        [4, 1],
        {"officer_min_share": [0.0, 0.5], "min_assigned": 4},
        "officer 1 min share 0.500000 needs at least 2",
    ),
    (
        "kinds",
        [[1, NAN]] * 3,
        [3, 3],
        {"kinds": [0, 0, 0], "max_per_kind": [1, 1], "min_assigned": 2},
        "at most 1 leads can be assigned",
    ),
    (
        "value share max",
        [[1, 1]] * 2,
        [2, 2],
        {"value_share_max": 0.4, "min_assigned": 1},
        "value_share_max 0.400000 x 2 officers",
    ),
    (
        "value floor",
        [[1, NAN]] * 2,
        [2, 2],
        {"value_floor": 0.1, "min_assigned": 1},
        "officer(s) [1] have no eligible lead",
    ),
]


@pytest.mark.parametrize(
    ("case", "value", "capacity", "side", "reason"),
    INFEASIBLE_CASES,
    ids=[c[0] for c in INFEASIBLE_CASES],
)
def test_side_constraint_infeasible_names_the_reason(
    case: str, value: Any, capacity: Any, side: dict[str, Any], reason: str
) -> None:
    """An impossible constraint gives status INFEASIBLE with a reason naming it."""
    _, result = _solve(value, capacity, **side)
    assert result.status is SolveStatus.INFEASIBLE
    assert result.bound == -np.inf
    assert any(reason in r for r in result.reasons), result.reasons


def test_joint_infeasibility_lists_responsible_families() -> None:
    """When no single check fires, CP-SAT proves infeasibility and the culprits are named."""
    # Officer 0 is group 0: it needs >= 0.6 of the leads but may hold <= 0.3 of them.
    _, result = _solve(
        [[1, 1, 1, 1]] * 10,
        [10, 10, 10, 10],
        groups=[0, 1, 1, 1],
        group_min_share=[0.6, 0.0],
        officer_max_share=0.3,
        min_assigned=1,
    )
    assert result.status is SolveStatus.INFEASIBLE and result.method == "cp_sat"
    assert "group_min_share" in result.reasons[0] and "officer_max_share" in result.reasons[0]


def test_unconstrained_optimum_that_meets_side_constraints_is_returned_directly() -> None:
    """Non-binding side constraints cost nothing: the flow optimum is proven optimal."""
    _, result = _solve([[5, 4], [3, NAN]], [1, 1], officer_max_share=1.0, min_assigned=1)
    assert result.status is SolveStatus.OPTIMAL and result.method == "min_cost_flow"
    assert result.objective == 7.0


def test_float_value_rows_give_feasible_answer_with_valid_bound() -> None:
    """Non-integral values make the value rows conservative; the answer stays valid and bounded."""
    rng = np.random.default_rng(11)
    value = rng.uniform(0.1, 1.0, (12, 4))
    _, result = _solve(value, [4, 4, 4, 4], value_share_max=0.3)
    assert result.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    assert result.objective > 0


def test_gap_property() -> None:
    """gap is (bound - objective) / |bound|, inf without a solution."""
    _, result = _solve([[5, 4], [3, NAN]], [1, 1])
    assert result.gap == pytest.approx(0.0, abs=1e-12)
    _, infeasible = _solve([[5, NAN]], [1, 1], min_assigned=1, officer_min_share=[0.0, 0.5])
    assert infeasible.gap == float("inf")
