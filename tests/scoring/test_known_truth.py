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
# Enough rows (108,879; 32,664 scored) for the truth itself to pass the ECE target: at 8
# replications it did not (0.00236 against 0.00234), the 15-bin ECE of ~22,000 rows at a 2.3%
# base rate being mostly noise of about 0.002 (docs/scoring.md).
REPLICATIONS = 12
# The linear candidate, its calibration chosen on the holdout as ``train_model`` does.
# ``auto`` would also fit the trees, doubling the test's time, and chooses this candidate
# anyway (seed 8201 at 8 and at 12 replications: logistic + isotonic, 0.8245 / 1.000 /
# 0.00142 at 12; benchmarks/bench_scoring_truth.py runs the full
# ``auto`` choice on seeds 8101-8103).
ESTIMATOR = "logistic"


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
    """Trained on the first 70% by assigned_at, scored on the rest, beside the truth."""
    found = known_truth_figures(truth_history, SEED, estimator=ESTIMATOR)
    print(table(found))
    return found


@pytest.mark.slow
def test_model_meets_the_known_truth_targets(figures: TruthFigures) -> None:
    """The goal, on rows enough for the truth to meet its own calibration targets: AUC within
    0.02 of the truth's AUC on the same rows, calibration slope in [0.9, 1.1], ECE at most 10%
    of the base rate (seed 8201, 12 replications: AUC 0.8245 against the truth's 0.8322,
    slope 1.000, ECE 0.0014 against a limit of 0.0025)."""
    failed = [name for name, ok in figures.checks.items() if not ok]
    assert not failed, table(figures)
