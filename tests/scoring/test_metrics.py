"""Metric functions against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.scoring.metrics import (
    auc,
    brier,
    brier_skill,
    calibration_slope_intercept,
    evaluate,
    expected_calibration_error,
    logit,
    reliability_table,
)


def test_auc_counts_correctly_ordered_pairs() -> None:
    """AUC is the share of (positive, negative) pairs where the positive scores higher."""
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    # pairs: (0.35 vs 0.1) yes, (0.35 vs 0.4) no, (0.8 vs 0.1) yes, (0.8 vs 0.4) yes -> 3/4
    assert auc(y, p) == pytest.approx(0.75)


def test_auc_counts_ties_as_half() -> None:
    """A tie between a positive and a negative counts one half."""
    assert auc(np.array([0, 1]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    # positive 0.5 ties one negative (1/2) and beats the other (1) -> 1.5 / 2
    assert auc(np.array([0, 0, 1]), np.array([0.5, 0.2, 0.5])) == pytest.approx(0.75)


def test_auc_is_nan_with_one_class() -> None:
    """AUC is undefined (NaN) when every outcome is the same."""
    assert math.isnan(auc(np.array([1, 1]), np.array([0.2, 0.3])))


def test_brier_is_mean_squared_error() -> None:
    """Brier = mean of (p - y)^2."""
    y = np.array([1, 0, 1, 0])
    p = np.array([0.9, 0.2, 0.6, 0.0])
    # (0.01 + 0.04 + 0.16 + 0) / 4 = 0.0525
    assert brier(y, p) == pytest.approx(0.0525)


def test_brier_skill_compares_with_the_base_rate() -> None:
    """BSS = 1 - Brier / (r (1 - r)); forecasting the base rate scores 0."""
    y = np.array([1, 0, 1, 0])
    p = np.array([0.9, 0.2, 0.6, 0.0])
    assert brier_skill(y, p) == pytest.approx(1 - 0.0525 / 0.25)
    assert brier_skill(y, np.full(4, 0.5)) == pytest.approx(0.0)


def test_ece_weights_bin_gaps_by_count() -> None:
    """ECE = sum over bins of count * |observed - mean forecast| / N (15 equal-width bins)."""
    # bin [0, 1/15): forecasts 0.05, 0.05, observed 1/2 -> gap 0.45, weight 2
    # bin [0.8, 13/15): forecasts 0.85, 0.85, 0.85, observed 2/3 -> gap 0.85 - 2/3, weight 3
    y = np.array([1, 0, 1, 1, 0])
    p = np.array([0.05, 0.05, 0.85, 0.85, 0.85])
    expected = (2 * 0.45 + 3 * (0.85 - 2 / 3)) / 5
    assert expected_calibration_error(y, p) == pytest.approx(expected)


def test_reliability_table_puts_one_in_the_last_bin() -> None:
    """A forecast of exactly 1 falls in the last bin, not past it."""
    table = reliability_table(np.array([1, 0]), np.array([1.0, 0.0]), n_bins=15)
    assert table.count[-1] == 1 and table.count[0] == 1 and table.count.sum() == 2


def test_calibration_slope_matches_the_two_group_closed_form() -> None:
    """With two forecast values the logistic fit passes through both groups' observed rates:
    forecasts 0.2 and 0.5 observed at 0.25 and 0.5 give slope logit(.25)/logit(.2) = 0.7925
    and intercept 0."""
    y = np.array([1] + [0] * 3 + [1] * 2 + [0] * 2)
    p = np.array([0.2] * 4 + [0.5] * 4)
    slope, intercept = calibration_slope_intercept(y, p)
    assert slope == pytest.approx(math.log(1 / 3) / math.log(1 / 4), abs=1e-7)
    assert slope == pytest.approx(0.7925, abs=1e-4)
    assert intercept == pytest.approx(0.0, abs=1e-7)


def test_calibration_slope_is_one_for_true_probabilities() -> None:
    """Outcomes drawn from the forecasts themselves give slope near 1 and intercept near 0."""
    rng = np.random.default_rng(0)
    p = rng.uniform(0.02, 0.6, 200_000)
    y = (rng.random(p.size) < p).astype(int)
    slope, intercept = calibration_slope_intercept(y, p)
    assert slope == pytest.approx(1.0, abs=0.03)
    assert intercept == pytest.approx(0.0, abs=0.05)


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 1], [0.5], "same length"),
        ([], [], "empty"),
        ([0, 2], [0.1, 0.2], "only 0 and 1"),
        ([0, 1], [0.1, 1.2], "probabilities in \\[0, 1\\]"),
    ],
)
def test_metrics_reject_invalid_input(y: list[float], p: list[float], message: str) -> None:
    """Mismatched, empty, non-binary outcomes or out-of-range forecasts raise ValueError."""
    with pytest.raises(ValueError, match=message):
        brier(np.array(y), np.array(p))


def test_evaluate_collects_every_figure() -> None:
    """evaluate() reports the same numbers as the individual functions."""
    y = np.array([0, 0, 1, 1, 0, 1])
    p = np.array([0.1, 0.3, 0.7, 0.6, 0.2, 0.4])
    m = evaluate(y, p)
    assert m.n == 6 and m.base_rate == pytest.approx(0.5)
    assert m.auc == pytest.approx(auc(y, p)) and m.brier == pytest.approx(brier(y, p))
    assert m.ece == pytest.approx(expected_calibration_error(y, p))
    assert set(m.to_dict()) >= {"auc", "brier", "brier_skill", "ece", "calibration_slope"}


def test_calibration_slope_stays_finite_where_plain_newton_overflowed() -> None:
    """Over-confident forecasts (true slope 0.15 on logits spread +-30) once sent the Newton
    iteration's first step to an overflow and NaN; the safeguarded fit finds the maximum a
    plain logistic regression finds."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(8)
    x = rng.normal(0.0, 10.0, 360)
    p = 1.0 / (1.0 + np.exp(-x))
    y = (rng.random(360) < 1.0 / (1.0 + np.exp(-0.15 * x))).astype(int)
    slope, intercept = calibration_slope_intercept(y, p)
    plain = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(logit(p)[:, None], y)
    assert np.isfinite(slope) and slope < 0.5
    assert slope == pytest.approx(plain.coef_[0, 0], abs=1e-5)
    assert intercept == pytest.approx(plain.intercept_[0], abs=1e-5)


def test_calibration_slope_is_nan_when_forecasts_separate_the_outcomes() -> None:
    """Outcomes perfectly separated by the forecasts have no finite maximum: NaN, not a huge
    number passed off as a slope."""
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8])
    y = np.array([0, 0, 0, 1, 1, 1])
    assert all(np.isnan(v) for v in calibration_slope_intercept(y, p))


def test_metrics_json_is_strict_json_with_null_for_what_is_not_a_number(tmp_path):
    """A single class has no AUC (NaN): metrics.json writes null, never a bare NaN, and
    reads back under a strict parser."""
    import json

    from engine.scoring.metrics import evaluate
    from engine.scoring.report import write_report

    y = np.zeros(50, dtype=int)
    p = np.linspace(0.01, 0.2, 50)
    figures = evaluate(y, p)
    assert np.isnan(figures.auc)
    _, js = write_report(tmp_path, y, p, figures, extra={"more": [float("inf"), 1.5]})

    def refuse(token: str) -> None:
        raise ValueError(f"not JSON: {token}")

    data = json.loads(js.read_text(), parse_constant=refuse)
    assert data["metrics"]["auc"] is None and data["more"] == [None, 1.5]
