"""Quality targets on held-out data: synthetic (true probabilities known) and the public
bank-marketing data set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.scoring.metrics import evaluate
from engine.scoring.synthetic import make_synthetic_history
from engine.scoring.tabular import cross_validate, time_ordered
from engine.scoring.training import train_model

BANK = Path(__file__).resolve().parents[3] / "shared" / "data" / "conversion" / \
    "bank-additional-full.csv"


@pytest.mark.slow
def test_model_meets_targets_on_held_out_synthetic_history() -> None:
    """Trained on the first 70% of a 60,000-lead history and scored on the last 30%:
    calibration slope in [0.9, 1.1], ECE <= 10% of the base rate, AUC within 0.02 of the
    AUC of the true probabilities."""
    world = make_synthetic_history(np.random.default_rng(2024), n_leads=60_000)
    roster = world.roster()
    train, test = world.split(0.7)
    result = train_model(train.history(roster), rng=np.random.default_rng(1))
    held_out = test.history(roster)
    m = evaluate(held_out.y, result.model.predict_history(held_out))
    oracle = evaluate(held_out.y, test.true_p)
    assert 0.9 <= m.calibration_slope <= 1.1, m
    assert m.ece <= 0.1 * m.base_rate, m
    assert m.auc >= oracle.auc - 0.02, (m, oracle)


@pytest.mark.slow
@pytest.mark.skipif(not BANK.exists(), reason=f"bank-marketing data not found at {BANK}")
def test_pipeline_reaches_published_auc_on_bank_marketing() -> None:
    """Without duration (known only after the call) and without the protected columns
    (age, marital), 5-fold AUC reaches the goal, 0.80 (the published figure); the folds are
    those of `bench_scoring.py --only-bank` (seed 2024), whose figure docs/scoring.md gives."""
    frame = pd.read_csv(BANK, sep=";")
    y = (frame.pop("y") == "yes").to_numpy(dtype=int)
    cv = cross_validate(frame, y, np.random.default_rng(2024), drop=["duration"])
    assert set(cv.dropped_protected) == {"age", "marital"}
    assert "duration" not in cv.columns and "age" not in cv.columns
    assert cv.mean_auc >= 0.80, cv.mean_auc
    assert 0.9 <= cv.pooled.calibration_slope <= 1.1


@pytest.mark.slow
@pytest.mark.skipif(not BANK.exists(), reason=f"bank-marketing data not found at {BANK}")
def test_bank_marketing_past_to_future_is_reported_with_its_drift() -> None:
    """The file is ordered by date: trained on the first 70% and scored on the rest, the
    later period's base rate (about 4x training's) is flagged as drift. (The AUC there is
    about 0.48: docs/scoring.md; it is reported, not a target.)"""
    frame = pd.read_csv(BANK, sep=";")
    y = (frame.pop("y") == "yes").to_numpy(dtype=int)
    split = time_ordered(frame, y, np.random.default_rng(0), drop=["duration"])
    assert split.train_rows == round(0.7 * len(y))
    assert split.test.base_rate > 3 * split.train_base_rate
    assert split.drift is not None and "base rate drift" in split.drift
