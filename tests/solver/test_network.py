"""Min-cost flow building block and the exact duals recovered from it."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.solver import AssignmentProblem
from engine.solver._scaling import scale_values
from engine.solver.network import officer_prices, solve_transport


def _flow_and_prices(
    problem: AssignmentProblem,
) -> tuple[np.ndarray, int, np.ndarray | None, np.ndarray]:
    scaled = scale_values(problem.arc_value, 2**30)
    flow = solve_transport(
        problem.num_leads, problem.arc_lead, problem.arc_officer, scaled.weights, problem.capacity
    )
    prices = officer_prices(
        problem.num_leads,
        problem.arc_lead,
        problem.arc_officer,
        scaled.weights,
        problem.capacity,
        flow.arc_flow,
    )
    return flow.arc_flow, flow.total_weight, prices, scaled.weights


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_officer_prices_close_the_duality_gap(seed: int) -> None:
    """Recovered prices are dual feasible and their dual objective equals the flow weight."""
    rng = np.random.default_rng(seed)
    value = rng.uniform(-1, 10, (int(rng.integers(1, 15)), int(rng.integers(1, 6))))
    value[rng.random(value.shape) < 0.4] = np.nan
    problem = AssignmentProblem.from_arrays(value, rng.integers(0, 4, value.shape[1]))
    _, total, prices, weights = _flow_and_prices(problem)
    assert prices is not None and np.all(prices >= 0)
    lead_best = np.zeros(problem.num_leads, dtype=np.int64)
    np.maximum.at(lead_best, problem.arc_lead, weights - prices[problem.arc_officer])
    assert int(problem.capacity @ prices + lead_best.sum()) == total


def test_officer_prices_reject_a_non_optimal_flow() -> None:
    """A flow that is not optimal has no consistent prices (positive cycle): None."""
    problem = AssignmentProblem.from_arrays(np.array([[5.0, 1.0], [1.0, 5.0]]), np.array([1, 1]))
    weights = scale_values(problem.arc_value, 2**30).weights
    swapped = np.array([0, 1, 1, 0])  # lead 0 -> officer 1, lead 1 -> officer 0: value 2, not 10
    assert (
        officer_prices(2, problem.arc_lead, problem.arc_officer, weights, problem.capacity, swapped)
        is None
    )


def test_solve_transport_respects_kind_limits() -> None:
    """The (officer, kind) layer caps leads of one kind per officer inside the network."""
    problem = AssignmentProblem.from_arrays(
        np.full((3, 1), 5.0), np.array([3]), kinds=[0, 0, 1], max_per_kind=[[1], [1]]
    )
    assert problem.kinds is not None
    flow = solve_transport(
        3,
        problem.arc_lead,
        problem.arc_officer,
        np.full(3, 5, dtype=np.int64),
        problem.capacity,
        arc_kind=problem.kinds[problem.arc_lead],
        kind_capacity=problem.max_per_kind,
    )
    assert int(flow.arc_flow.sum()) == 2 and flow.total_weight == 10


def test_scale_values_is_exact_for_dyadic_values() -> None:
    """Values with few binary digits scale to integers exactly (no rounding slack)."""
    scaled = scale_values(np.array([0.5, 3.25, 7.0]), 2**20)
    assert scaled.exact and scaled.rounding_slack(1000) == 0.0
    assert np.all(scaled.weights == np.array([0.5, 3.25, 7.0]) * scaled.scale)
    inexact = scale_values(np.array([0.1, 0.3]), 2**20)
    assert not inexact.exact and inexact.rounding_slack(4) == 4 / (2 * inexact.scale)
    assert np.abs(inexact.weights).max() <= 2**20
