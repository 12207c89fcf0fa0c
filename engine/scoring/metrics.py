"""Quality of probability forecasts: discrimination (AUC) and calibration (Brier, ECE, slope).

Pure numpy so the same figures come out of the CLI, the benchmarks and the tests. Every
function takes ``y`` (N,) of 0/1 outcomes and ``p`` (N,) of forecast probabilities in [0, 1].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.special import expit

ECE_BINS = 15
# Forecasts are clipped this far from 0 and 1 before taking logits, so a forecast of exactly
# 0 or 1 (isotonic calibration produces them) gives a finite logit.
LOGIT_EPS = 1e-6


def _check(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float).ravel()
    p = np.asarray(p, dtype=float).ravel()
    if y.shape != p.shape:
        raise ValueError(f"y and p must have the same length, got {y.size} and {p.size}")
    if y.size == 0:
        raise ValueError("y and p are empty; need at least one forecast")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("y must hold only 0 and 1")
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError("p must hold probabilities in [0, 1]")
    return y, p


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x`` with ties given the mean of the ranks they span."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    # boundaries of runs of equal values
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], xs.size]
    mean_rank = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(x.size)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random positive outranks a random
    negative, ties counting one half (Mann-Whitney U / (n1 * n0)). NaN without both classes."""
    y, p = _check(y, p)
    n1 = float(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = _average_ranks(p)
    u = ranks[y == 1].sum() - n1 * (n1 + 1) / 2.0
    return float(u / (n1 * n0))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Brier score: mean squared difference between forecast and outcome (lower is better)."""
    y, p = _check(y, p)
    return float(np.mean((p - y) ** 2))


def brier_skill(y: np.ndarray, p: np.ndarray) -> float:
    """Brier skill score, ``1 - Brier / Brier_ref``, where the reference forecasts the observed
    base rate for everyone. 0 means no better than the base rate; 1 is perfect. NaN when
    every outcome is the same (the reference is then perfect)."""
    y, p = _check(y, p)
    rate = y.mean()
    ref = rate * (1.0 - rate)
    if ref == 0:
        return float("nan")
    return float(1.0 - brier(y, p) / ref)


@dataclass(frozen=True)
class ReliabilityTable:
    """Equal-width bins of the forecast: ``edges`` (B+1,), and per bin (B,) the count, the mean
    forecast and the observed rate (NaN for empty bins)."""

    edges: np.ndarray
    count: np.ndarray
    mean_p: np.ndarray
    observed: np.ndarray


def reliability_table(y: np.ndarray, p: np.ndarray, n_bins: int = ECE_BINS) -> ReliabilityTable:
    """Bin forecasts into ``n_bins`` equal-width bins on [0, 1]; the last bin includes 1."""
    y, p = _check(y, p)
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip((p * n_bins).astype(np.int64), 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins).astype(float)
    sum_p = np.bincount(which, weights=p, minlength=n_bins)
    sum_y = np.bincount(which, weights=y, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.where(count > 0, sum_p / count, np.nan)
        observed = np.where(count > 0, sum_y / count, np.nan)
    return ReliabilityTable(edges, count, mean_p, observed)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """ECE: the count-weighted mean over equal-width bins of |observed rate - mean forecast|,
    in probability units (0.01 = one percentage point)."""
    table = reliability_table(y, p, n_bins)
    filled = table.count > 0
    gaps = np.abs(table.observed[filled] - table.mean_p[filled])
    return float(np.sum(table.count[filled] * gaps) / np.sum(table.count))


def logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) after clipping p to [LOGIT_EPS, 1 - LOGIT_EPS]."""
    q = np.clip(np.asarray(p, dtype=float), LOGIT_EPS, 1.0 - LOGIT_EPS)
    return np.log(q) - np.log1p(-q)


def _log_likelihood(design: np.ndarray, y: np.ndarray, beta: np.ndarray) -> float:
    """Bernoulli log-likelihood of ``y`` under logits ``design @ beta``, without overflow:
    log sigmoid(eta) = -log(1 + exp(-eta)) = -logaddexp(0, -eta)."""
    eta = design @ beta
    return float(-np.sum(np.where(y == 1, np.logaddexp(0.0, -eta), np.logaddexp(0.0, eta))))


def calibration_slope_intercept(y: np.ndarray, p: np.ndarray, max_iter: int = 100,
                                tol: float = 1e-10) -> tuple[float, float]:
    """Slope ``b`` and intercept ``a`` of the logistic regression ``logit P(y=1) = a + b *
    logit(p)`` (maximum likelihood, no penalty).

    Fitted by Newton's method with step halving: a step that does not raise the likelihood
    is halved until it does, and the probabilities come from ``scipy.special.expit`` (no
    overflow), so the iteration cannot run off to infinity where a plain logistic fit finds
    the maximum (it agrees with scikit-learn's unpenalised ``LogisticRegression``; tested).

    A well-calibrated forecast has slope 1 and intercept 0; a slope below 1 means the forecasts
    are too extreme (over-fitted), above 1 too timid. Returns (NaN, NaN) when every outcome is
    the same or the forecasts do not vary, and when the outcomes are perfectly separated by
    the forecasts (the maximum is then at infinity): the regression is not identified.
    """
    y, p = _check(y, p)
    x = logit(p)
    if y.min() == y.max() or np.ptp(x) == 0:
        return float("nan"), float("nan")
    neg, pos = x[y == 0], x[y == 1]
    if neg.max() <= pos.min() or pos.max() <= neg.min():  # separated (one covariate)
        return float("nan"), float("nan")
    design = np.column_stack((np.ones_like(x), x))
    beta = np.array([0.0, 1.0])
    current = _log_likelihood(design, y, beta)
    for _ in range(max_iter):
        mu = expit(design @ beta)
        w = mu * (1.0 - mu)
        grad = design.T @ (y - mu)
        hess = design.T @ (design * w[:, None])
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            return float("nan"), float("nan")
        if not np.all(np.isfinite(step)):
            return float("nan"), float("nan")
        scale = 1.0
        for _halving in range(60):
            trial = beta + scale * step
            found = _log_likelihood(design, y, trial)
            if found >= current - 1e-12 * abs(current):
                break
            scale *= 0.5
        else:
            break  # no step raises the likelihood: at the maximum to rounding
        beta, current = trial, found
        if np.max(np.abs(scale * step)) < tol:
            break
    return float(beta[1]), float(beta[0])


@dataclass(frozen=True)
class Metrics:
    """The figures ``leadroute model evaluate`` prints. Probabilities are in [0, 1]."""

    n: int
    base_rate: float
    mean_p: float
    auc: float
    brier: float
    brier_skill: float
    ece: float
    calibration_slope: float
    calibration_intercept: float

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def describe(self) -> str:
        """One line per figure, for a terminal."""
        return "\n".join((
            f"rows                   {self.n}",
            f"base rate              {self.base_rate:.4f}",
            f"mean forecast          {self.mean_p:.4f}",
            f"AUC                    {self.auc:.4f}",
            f"Brier score            {self.brier:.5f}",
            f"Brier skill score      {self.brier_skill:.4f}",
            f"ECE ({ECE_BINS} bins)          {self.ece:.5f}",
            f"calibration slope      {self.calibration_slope:.3f}",
            f"calibration intercept  {self.calibration_intercept:.3f}",
        ))


def evaluate(y: np.ndarray, p: np.ndarray) -> Metrics:
    """All the figures at once for outcomes ``y`` (N,) and forecasts ``p`` (N,)."""
    y, p = _check(y, p)
    slope, intercept = calibration_slope_intercept(y, p)
    return Metrics(
        n=int(y.size), base_rate=float(y.mean()), mean_p=float(p.mean()), auc=auc(y, p),
        brier=brier(y, p), brier_skill=brier_skill(y, p),
        ece=expected_calibration_error(y, p), calibration_slope=slope,
        calibration_intercept=intercept,
    )


# A base rate counts as drifted when it moved by more than this factor either way and by more
# than noise (a two-proportion z-statistic beyond DRIFT_Z).
DRIFT_RATIO = 1.25
DRIFT_Z = 3.0


def base_rate_drift(train_rate: float, n_train: int, eval_rate: float, n_eval: int
                    ) -> str | None:
    """A warning when the evaluated period's base rate drifted from training's, else None.

    Drifted means the ratio of the two rates is beyond ``DRIFT_RATIO`` either way and the
    difference is beyond noise (two-proportion z-statistic above ``DRIFT_Z``). A model's
    calibration figures on a drifted period describe a population it was not trained on."""
    if n_train <= 0 or n_eval <= 0:
        return None
    pooled = (train_rate * n_train + eval_rate * n_eval) / (n_train + n_eval)
    se = float(np.sqrt(pooled * (1.0 - pooled) * (1.0 / n_train + 1.0 / n_eval)))
    z = abs(eval_rate - train_rate) / se if se > 0 else 0.0
    low, high = sorted((train_rate, eval_rate))
    ratio = high / low if low > 0 else float("inf")
    if ratio <= DRIFT_RATIO or z <= DRIFT_Z:
        return None
    return (f"base rate drift: the evaluated rows convert at {eval_rate:.4f}, training's at "
            f"{train_rate:.4f} ({eval_rate / train_rate if train_rate > 0 else float('inf'):.2f}"
            f"x, z = {z:.1f}); the model's calibration was learned on a different mix, so "
            "expect biased probabilities until it is retrained on recent rows")
