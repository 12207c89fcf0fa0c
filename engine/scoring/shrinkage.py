"""Empirical-Bayes shrinkage: rates and typical delays that trust a record as it grows.

An officer with three funded loans out of five VA leads has not shown a 60% VA rate; with no VA
leads at all they have shown nothing. Both should start at what their team does, and the team
at what everyone does, and move toward their own record as it grows.

* Rates (beta-binomial): the estimate for a group with ``s`` successes in ``n`` trials under a
  prior with mean ``m`` and strength ``k`` (worth ``k`` pseudo-trials) is
  ``(s + k * m) / (n + k)``. Strength comes from the data by the method of moments.
* Typical delays (normal-normal): the same form on means of log delays,
  ``(sum + k * prior) / (n + k)``, with ``k = within-group variance / between-group variance``.

Everything here is plain arrays in, arrays out; the caller decides what a group is.
"""

from __future__ import annotations

import numpy as np

MIN_STRENGTH = 1.0
MAX_STRENGTH = 10_000.0


def shrink(successes: np.ndarray | float, trials: np.ndarray | float,
           prior_mean: np.ndarray | float, strength: float) -> np.ndarray:
    """Posterior mean ``(s + k m) / (n + k)``, elementwise; equals ``prior_mean`` where n = 0."""
    s = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    return np.asarray((s + strength * np.asarray(prior_mean, dtype=float)) / (n + strength))


def beta_prior_strength(successes: np.ndarray, trials: np.ndarray,
                        prior_mean: np.ndarray | float,
                        *, lo: float = MIN_STRENGTH, hi: float = MAX_STRENGTH) -> float:
    """Prior strength ``k`` of a beta-binomial model, by the method of moments.

    Groups ``i`` have ``s_i`` successes in ``n_i`` trials and prior means ``m_i`` (the level
    above). With true rates spread around ``m_i`` with variance ``tau^2 = m (1 - m) / (k + 1)``,
    ``E[sum n_i (r_i - m_i)^2] = tau^2 * sum n_i + sum m_i (1 - m_i)``; solving for ``tau^2``
    gives ``k``. Groups with no trials carry no information and are skipped. When the groups
    vary no more than binomial noise explains, the answer is ``hi`` (pool completely); ``lo``
    keeps one pseudo-trial of prior even for very different groups.
    """
    s = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float).ravel()
    m = np.clip(np.broadcast_to(np.asarray(prior_mean, dtype=float), s.shape).ravel(),
                1e-6, 1 - 1e-6)
    s = s.ravel()
    used = n > 0
    if used.sum() < 2:
        return hi
    s, n, m = s[used], n[used], m[used]
    r = s / n
    total = n.sum()
    spread = np.sum(n * (r - m) ** 2)
    noise = np.sum(m * (1.0 - m))
    tau2 = (spread - noise) / total
    mean_var = float(np.sum(n * m * (1.0 - m)) / total)
    if tau2 <= mean_var / (hi + 1.0):
        return hi
    return float(np.clip(mean_var / tau2 - 1.0, lo, hi))


def normal_prior_strength(sums: np.ndarray, sums_sq: np.ndarray, counts: np.ndarray,
                          prior_mean: np.ndarray, *, lo: float = MIN_STRENGTH,
                          hi: float = MAX_STRENGTH) -> float:
    """Prior strength ``k = sigma^2 / tau^2`` for shrinking group means of a continuous value.

    ``sums``, ``sums_sq``, ``counts`` are per group (any shape, same shape); ``prior_mean`` the
    level above for each group. ``sigma^2`` is the pooled within-group variance; ``tau^2`` the
    spread of group means around their priors beyond what ``sigma^2 / n`` explains.
    """
    total = np.asarray(sums, dtype=float)
    m = np.broadcast_to(np.asarray(prior_mean, dtype=float), total.shape).ravel()
    total = total.ravel()
    sq = np.asarray(sums_sq, dtype=float).ravel()
    n = np.asarray(counts, dtype=float).ravel()
    used = n > 0
    if used.sum() < 2 or n[used].sum() <= used.sum():
        return hi
    total, sq, n, m = total[used], sq[used], n[used], m[used]
    means = total / n
    within = float(np.sum(sq - n * means**2) / (n.sum() - n.size))
    if within <= 0:
        return lo
    spread = np.sum(n * (means - m) ** 2)
    tau2 = (spread - n.size * within) / n.sum()
    if tau2 <= within / hi:
        return hi
    return float(np.clip(within / tau2, lo, hi))
