"""The conversion model against the simulator's known truth (``true_p_funded``)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.scoring.known_truth import (
    TruthFigures,
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


@pytest.fixture(scope="module")
def figures(truth_history: TruthHistory) -> TruthFigures:
    """Trained on the first 70% by assigned_at (hgb), scored on the rest, beside the truth."""
    found = known_truth_figures(truth_history, SEED, estimator="hgb")
    print(table(found))
    return found


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=(
    "not met yet (docs/scoring.md): AUC 0.030 below the truth's (target 0.02); ECE 0.0028 "
    "against 0.0023, which at 8 replications the truth itself misses (0.0024)"))
def test_model_meets_the_known_truth_targets(figures: TruthFigures) -> None:
    """The goal: AUC within 0.02 of the truth's AUC on the same rows, calibration slope in
    [0.9, 1.1], ECE at most 10% of the base rate, with the truth meeting its own two. Strict:
    once met, this fails until the mark is removed."""
    failed = [name for name, ok in figures.checks.items() if not ok]
    assert not failed, table(figures)


@pytest.mark.slow
def test_model_keeps_what_seeing_time_gained(figures: TruthFigures) -> None:
    """Where the model stands (seed 8201: AUC 0.806 against the truth's 0.837, slope 0.917,
    ECE 0.0028): AUC within 0.04 of the truth's (it was 0.11 below before the model saw the
    decision moment), slope in [0.9, 1.1], ECE within 1.5x the limit."""
    m, t = figures.model, figures.truth
    assert m.auc >= t.auc - 0.04, table(figures)
    assert 0.9 <= m.calibration_slope <= 1.1, table(figures)
    assert m.ece <= 1.5 * 0.1 * m.base_rate, table(figures)
