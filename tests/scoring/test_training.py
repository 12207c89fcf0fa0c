"""Model choice on a time-ordered holdout."""

from __future__ import annotations

import numpy as np
import pytest

from engine.scoring.history import History
from engine.scoring.training import train_model


def test_train_model_keeps_the_candidate_with_the_lowest_holdout_brier(
        small_history: History) -> None:
    """Every calibration is tried on the latest 20%; the lowest Brier score wins and is refit
    on all rows."""
    result = train_model(small_history, estimator="logistic", calibration="auto",
                         rng=np.random.default_rng(3))
    assert {c.calibration for c in result.candidates} == {"isotonic", "sigmoid"}
    best = min(result.candidates, key=lambda c: c.metrics.brier)
    assert result.model.calibration == best.calibration
    assert result.holdout == best.metrics
    assert result.model.n_train_ == len(small_history)
    assert result.holdout is not None
    assert result.holdout.n == len(small_history) - round(0.8 * len(small_history))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"estimator": "forest"}, "estimator must be auto or one of hgb, logistic"),
        ({"calibration": "beta"}, "calibration must be auto or one of isotonic, sigmoid"),
        ({"holdout_fraction": 0.0}, "needs a holdout"),
        ({"holdout_fraction": 1.5, "estimator": "hgb", "calibration": "sigmoid"},
         "holdout_fraction must be in"),
    ],
)
def test_train_model_rejects_bad_choices(small_history: History, kwargs: dict[str, object],
                                         message: str) -> None:
    """Unknown estimators or calibrations, or auto without a holdout, raise ValueError."""
    with pytest.raises(ValueError, match=message):
        train_model(small_history, **kwargs)  # type: ignore[arg-type]
