"""The conversion model against the simulator's known truth (``true_p_funded``)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.scoring.known_truth import (
    TruthHistory,
    known_truth_figures,
    simulated_history,
    table,
)

# A world (hidden traits), leads and draws used by no other test or benchmark.
SEED = 8201
REPLICATIONS = 8


@pytest.fixture(scope="module")
def truth_history() -> TruthHistory:
    return simulated_history(SEED, replications=REPLICATIONS)


@pytest.mark.slow
def test_history_truth_matches_the_outcomes(truth_history: TruthHistory) -> None:
    """Over every row, true_p_funded forecasts the funded rate: mean within noise of the
    observed rate, ECE under 10% of the base rate."""
    from engine.scoring.metrics import evaluate

    y, p = truth_history.history.y, truth_history.true_p
    assert np.all((p > 0) & (p < 1))
    se = np.sqrt(p.mean() * (1 - p.mean()) / len(y))
    assert abs(y.mean() - p.mean()) < 4 * se, (y.mean(), p.mean())
    m = evaluate(y, p)
    assert m.ece <= 0.1 * m.base_rate, m


@pytest.mark.slow
def test_model_is_as_good_as_the_truth_on_later_rows(truth_history: TruthHistory) -> None:
    """Trained on the first 70% by assigned_at, scored on the rest: AUC within 0.02 of the
    truth's AUC on the same rows, calibration slope in [0.9, 1.1], ECE at most 10% of the
    base rate; the truth itself meets its two calibration targets on those rows."""
    figures = known_truth_figures(truth_history, SEED, estimator="hgb")
    print(table(figures))
    failed = [name for name, ok in figures.checks.items() if not ok]
    assert not failed, table(figures)
