"""Online policies: greedy and dual prices with scheduled re-solving."""

from __future__ import annotations

import numpy as np
import pytest

from engine.solver import (
    AssignmentProblem,
    DualPriceAssigner,
    PoolForecast,
    greedy_choice,
    price_choice,
    solve_assignment,
)

from .conftest import check_result
from .instances import OnlineMarket

NAN = np.nan


def test_greedy_choice_takes_best_eligible_with_room() -> None:
    """Highest value among eligible officers that still have capacity."""
    assert greedy_choice(np.array([3.0, NAN, 5.0]), np.array([1, 1, 1])) == 2
    assert greedy_choice(np.array([3.0, NAN, 5.0]), np.array([1, 1, 0])) == 0


def test_greedy_choice_holds_lead_without_options() -> None:
    """No eligible officer with capacity: -1."""
    assert greedy_choice(np.array([NAN, 2.0]), np.array([1, 0])) == -1


def test_choices_break_ties_by_lowest_index() -> None:
    """Equal scores go to the lowest officer index (deterministic)."""
    assert greedy_choice(np.array([4.0, 4.0]), np.array([1, 1])) == 0
    assert price_choice(np.array([5.0, 4.0]), np.array([1, 1]), np.array([1.0, 0.0])) == 0


def test_price_choice_maximises_value_minus_price() -> None:
    """The officer with the best value net of price wins, not the best raw value."""
    assert price_choice(np.array([10.0, 7.0]), np.array([1, 1]), np.array([5.0, 0.0])) == 1


def test_price_choice_holds_lead_when_no_officer_clears_its_price() -> None:
    """value - price < 0 everywhere: hold (-1); exactly 0 still assigns."""
    assert price_choice(np.array([1.0, 2.0]), np.array([1, 1]), np.array([3.0, 2.5])) == -1
    assert price_choice(np.array([1.0, 2.0]), np.array([1, 1]), np.array([3.0, 2.0])) == 1


def _run(
    policy: str,
    market: OnlineMarket,
    capacity: np.ndarray,
    officers: np.ndarray,
    values: np.ndarray,
    seed: int,
) -> float:
    remaining = capacity.copy()
    assigner = DualPriceAssigner(
        capacity,
        horizon_leads=len(values),
        forecast=market,
        rng=np.random.default_rng(seed),
        forecast_leads=2000,
    )
    total = 0.0
    row = np.full(market.num_officers, NAN)
    for lead in range(len(values)):
        row[:] = NAN
        row[officers[lead]] = values[lead]
        choice = (
            greedy_choice(row, remaining) if policy == "greedy" else assigner.choose(row, remaining)
        )
        if choice >= 0:
            remaining[choice] -= 1
            total += row[choice]
    return total


def test_dual_prices_beat_greedy_when_capacity_is_scarce() -> None:
    """Direction of change: pricing scarce capacity beats greedy and never beats hindsight."""
    rng = np.random.default_rng(7)
    market = OnlineMarket.create(60, rng, eligible_per_lead=10)
    capacity = np.full(60, 3)
    officers, values = market.draw(360, rng)
    problem = AssignmentProblem.from_pairs(
        np.repeat(np.arange(360), 10),
        officers.reshape(-1),
        values.reshape(-1),
        capacity,
        num_leads=360,
    )
    result = solve_assignment(problem)
    check_result(problem, result)
    hindsight = result.objective
    greedy = _run("greedy", market, capacity, officers, values, 1)
    dual = _run("dual", market, capacity, officers, values, 1)
    assert greedy < dual <= hindsight + 1e-9


def test_dual_price_assigner_reprices_on_schedule() -> None:
    """Prices are re-solved at the start and at each checkpoint, once each."""
    rng = np.random.default_rng(0)
    market = OnlineMarket.create(10, rng, eligible_per_lead=3)
    assigner = DualPriceAssigner(
        np.full(10, 2),
        horizon_leads=40,
        forecast=market,
        rng=rng,
        reprice_fractions=(0.0, 0.5, 0.75),
    )
    row = np.full(10, 1.0)
    remaining = np.full(10, 2)
    counts = []
    for _ in range(40):
        assigner.choose(row, remaining)
        counts.append(assigner.reprices_)
    assert (
        counts[0] == 1
        and counts[19] == 1
        and counts[20] == 2
        and counts[30] == 3
        and counts[-1] == 3
    )


def test_dual_price_assigner_with_ample_capacity_acts_greedily() -> None:
    """Capacity that cannot run out has price zero, so choices equal greedy's."""
    rng = np.random.default_rng(2)
    market = OnlineMarket.create(8, rng, eligible_per_lead=3)
    assigner = DualPriceAssigner(np.full(8, 1000), horizon_leads=50, forecast=market, rng=rng)
    officers, values = market.draw(50, rng)
    remaining = np.full(8, 1000)
    for lead in range(50):
        row = np.full(8, NAN)
        row[officers[lead]] = values[lead]
        assert assigner.choose(row, remaining) == greedy_choice(row, remaining)
    assert np.allclose(assigner.prices_, 0.0)


def test_pool_forecast_resamples_rows() -> None:
    """A pool forecast returns rows of the stored sample."""
    pool = np.array([[1.0, NAN], [NAN, 2.0]])
    sample = PoolForecast(pool).sample(5, np.random.default_rng(0))
    assert sample.shape == (5, 2)
    assert all(any(np.array_equal(r, p, equal_nan=True) for p in pool) for r in sample)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizon_leads": 0}, "horizon_leads: expected an int >= 1"),
        ({"forecast_leads": 0}, "forecast_leads: expected an int >= 1"),
        ({"reprice_fractions": (1.0,)}, "reprice_fractions: expected values in [0, 1)"),
    ],
)
def test_dual_price_assigner_rejects_bad_settings(kwargs: dict[str, object], message: str) -> None:
    """Bad settings raise ValueError naming the setting."""
    arguments: dict[str, object] = {
        "horizon_leads": 10,
        "forecast": PoolForecast(np.ones((2, 2))),
        "rng": np.random.default_rng(0),
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match="received") as error:
        DualPriceAssigner(np.ones(2), **arguments)  # type: ignore[arg-type]
    assert message in str(error.value)
