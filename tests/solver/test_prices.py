"""capacity_prices: LP capacity duals on a forecast, three methods."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from engine.solver import capacity_prices

NAN = np.nan


def _dual_objective(value: np.ndarray, capacity: np.ndarray, prices: np.ndarray) -> float:
    reduced = np.where(np.isnan(value), -np.inf, value - prices[None, :])
    return float(capacity @ prices + np.maximum(reduced.max(axis=1), 0.0).sum())


@pytest.fixture(scope="module")
def forecast() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    value = (
        rng.lognormal(0, 0.5, (300, 1))[:, :]
        * rng.lognormal(0, 0.3, (1, 20))
        * rng.uniform(0.5, 1.5, (300, 20))
    )
    value[rng.random(value.shape) < 0.7] = NAN
    return value, np.full(20, 300 * 0.5 / 20)


@pytest.mark.parametrize("method", ["glop", "highs", "network"])
def test_capacity_prices_are_optimal_duals(
    method: str, forecast: tuple[np.ndarray, np.ndarray]
) -> None:
    """Every method returns prices >= 0 whose dual objective equals the LP optimum."""
    value, capacity = forecast
    prices = capacity_prices(value, capacity, method=method)  # type: ignore[arg-type]
    reference = capacity_prices(value, capacity, method="glop")
    assert prices.shape == (20,) and np.all(prices >= 0)
    assert _dual_objective(value, capacity, prices) == pytest.approx(
        _dual_objective(value, capacity, reference), rel=1e-4
    )


def test_capacity_prices_zero_when_capacity_is_ample(
    forecast: tuple[np.ndarray, np.ndarray],
) -> None:
    """Capacity that can never bind is worth nothing."""
    value, _ = forecast
    assert np.allclose(capacity_prices(value, np.full(20, 1000.0), method="network"), 0.0)


def test_capacity_prices_accept_sparse_forecast(forecast: tuple[np.ndarray, np.ndarray]) -> None:
    """A sparse matrix whose stored entries are the eligible pairs gives the same prices."""
    value, capacity = forecast
    rows, cols = np.nonzero(~np.isnan(value))
    sparse = sp.csr_array((value[rows, cols], (rows, cols)), shape=value.shape)
    np.testing.assert_allclose(
        capacity_prices(sparse, capacity, method="network"),
        capacity_prices(value, capacity, method="network"),
    )


def test_capacity_prices_price_the_scarce_officer() -> None:
    """Two leads want one slot of officer 0: its price lies between the two values."""
    value = np.array([[10.0, 1.0], [8.0, NAN]])
    prices = capacity_prices(value, np.array([1.0, 1.0]), method="network")
    assert 8.0 - 1e-9 <= prices[0] <= 9.0 + 1e-9 and prices[1] == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("value", "capacity", "method", "message"),
    [
        (np.ones(3), np.ones(3), "glop", "value_forecast: expected a 2-D"),
        (np.ones((2, 3)), np.ones(2), "glop", "capacity: expected shape (3,)"),
        (np.ones((2, 3)), -np.ones(3), "glop", "capacity: expected finite values >= 0"),
        (np.ones((2, 3)), np.ones(3), "simplex", "method: expected 'glop', 'highs' or 'network'"),
        (np.array([[np.inf]]), np.ones(1), "glop", "value_forecast: expected finite values"),
    ],
)
def test_capacity_prices_reject_bad_input(
    value: np.ndarray, capacity: np.ndarray, method: str, message: str
) -> None:
    """Bad input raises ValueError saying what was expected."""
    with pytest.raises(ValueError, match="received") as error:
        capacity_prices(value, capacity, method=method)  # type: ignore[arg-type]
    assert message in str(error.value)
