"""The scoring pipeline on an ordinary table: cross-validated figures for data sets from
elsewhere (the public bank-marketing data in ``benchmarks/bench_scoring.py --bank``).

It runs the same ``build_pipeline`` the conversion model uses, so a figure here says how the
pipeline itself does on data nobody here wrote. Protected-characteristic columns are dropped
unless the caller asks to keep them (to compare with published figures that used them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from engine.fair_lending import protected_characteristic
from engine.scoring.metrics import Metrics, base_rate_drift, evaluate
from engine.scoring.pipeline import BoostingParams, build_pipeline


@dataclass(frozen=True)
class CrossValidation:
    """Per-fold figures and the pooled out-of-fold figures, plus the columns used/dropped."""

    folds: tuple[Metrics, ...]
    pooled: Metrics
    columns: tuple[str, ...]
    dropped_protected: tuple[str, ...]

    @property
    def mean_auc(self) -> float:
        return float(np.mean([m.auc for m in self.folds]))

    @property
    def std_auc(self) -> float:
        return float(np.std([m.auc for m in self.folds]))


def design_matrix(frame: pd.DataFrame) -> np.ndarray:
    """(N, F) float matrix: numeric columns as they are, text columns one-hot (every value
    seen gets a column; the vocabulary is the whole table's, which uses no outcome)."""
    numeric = frame.select_dtypes(include="number")
    text = frame.drop(columns=numeric.columns)
    parts = [numeric.to_numpy(dtype=float)]
    if not text.empty:
        parts.append(pd.get_dummies(text.astype(str), dtype=float).to_numpy())
    return np.hstack(parts)


def cross_validate(frame: pd.DataFrame, y: np.ndarray, rng: np.random.Generator, *,
                   n_folds: int = 5, estimator: str = "hgb", calibration: str = "isotonic",
                   keep_protected: bool = False, drop: Sequence[str] = (),
                   boosting: BoostingParams | None = None) -> CrossValidation:
    """Stratified ``n_folds``-fold figures of the pipeline on ``frame`` (N rows) against
    outcomes ``y`` (N,) of 0/1. ``drop`` names columns to leave out (e.g. ones known only after
    the outcome); protected-characteristic columns are left out unless ``keep_protected``."""
    protected = tuple(c for c in frame.columns if protected_characteristic(str(c)) is not None)
    leave = set(drop) | (set() if keep_protected else set(protected))
    used = frame.drop(columns=[c for c in frame.columns if c in leave])
    x = design_matrix(used)
    y = np.asarray(y, dtype=int)
    seed = int(rng.integers(2**31 - 1))
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    pooled = np.empty(len(y))
    folds: list[Metrics] = []
    for train, test in splitter.split(x, y):
        pipeline = build_pipeline(x.shape[1], estimator=estimator,  # type: ignore[arg-type]
                                  calibration=calibration,  # type: ignore[arg-type]
                                  boosting=boosting, impute=bool(np.isnan(x).any()),
                                  random_state=seed)
        pipeline.fit(x[train], y[train])
        pooled[test] = pipeline.predict_proba(x[test])[:, 1]
        folds.append(evaluate(y[test], pooled[test]))
    return CrossValidation(tuple(folds), evaluate(y, pooled), tuple(str(c) for c in used.columns),
                           tuple(c for c in protected if c in leave))


@dataclass(frozen=True)
class TimeSplit:
    """Train on the first rows, score the rest (a table ordered by time): the figures on the
    later rows, both base rates, and the drift warning when they differ beyond noise."""

    train_rows: int
    train_base_rate: float
    test: Metrics
    drift: str | None


def time_ordered(frame: pd.DataFrame, y: np.ndarray, rng: np.random.Generator, *,
                 train_fraction: float = 0.7, estimator: str = "hgb",
                 calibration: str = "isotonic", keep_protected: bool = False,
                 drop: Sequence[str] = (), boosting: BoostingParams | None = None) -> TimeSplit:
    """Fit the pipeline on the first ``train_fraction`` of the rows of ``frame`` (ordered by
    time) and score the rest: what a model trained on the past does on the future."""
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    protected = tuple(c for c in frame.columns if protected_characteristic(str(c)) is not None)
    leave = set(drop) | (set() if keep_protected else set(protected))
    x = design_matrix(frame.drop(columns=[c for c in frame.columns if c in leave]))
    y = np.asarray(y, dtype=int)
    cut = round(len(y) * train_fraction)
    pipeline = build_pipeline(x.shape[1], estimator=estimator,  # type: ignore[arg-type]
                              calibration=calibration,  # type: ignore[arg-type]
                              boosting=boosting, impute=bool(np.isnan(x).any()),
                              random_state=int(rng.integers(2**31 - 1)))
    pipeline.fit(x[:cut], y[:cut])
    test = evaluate(y[cut:], pipeline.predict_proba(x[cut:])[:, 1])
    train_rate = float(y[:cut].mean())
    return TimeSplit(cut, train_rate, test,
                     base_rate_drift(train_rate, cut, test.base_rate, test.n))
