"""Training with model choice on a time-ordered holdout, evaluation, and the model card.

``train_model`` fits every candidate (estimator x calibration) on the earlier rows of a
history, scores the latest rows, keeps the candidate with the lowest Brier score there (a
proper scoring rule: it rewards calibration and discrimination together), and refits that
candidate on the whole history. The holdout figures of the chosen candidate go into the card.
"""

from __future__ import annotations

import platform
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from itertools import product
from typing import Any

import numpy as np

from engine.scoring.history import History
from engine.scoring.metrics import Metrics, base_rate_drift, evaluate
from engine.scoring.model import ConversionModel
from engine.scoring.pipeline import CALIBRATIONS, ESTIMATORS

MODEL_NAME = "leadroute conversion model"
MODEL_FORMAT = "leadroute.scoring/1"
LIBRARIES = ("numpy", "pandas", "scikit-learn", "skops", "scipy", "threadpoolctl")


@dataclass(frozen=True)
class Candidate:
    """One estimator x calibration pair and its holdout figures."""

    estimator: str
    calibration: str
    metrics: Metrics

    def to_dict(self) -> dict[str, Any]:
        return {"estimator": self.estimator, "calibration": self.calibration,
                "holdout": self.metrics.to_dict()}


@dataclass(frozen=True)
class TrainResult:
    """The fitted model, the holdout figures of the chosen candidate (None without a holdout)
    and every candidate tried."""

    model: ConversionModel
    holdout: Metrics | None
    holdout_fraction: float
    candidates: tuple[Candidate, ...] = field(default=())


def _expand(choice: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    if choice == "auto":
        return allowed
    if choice not in allowed:
        raise ValueError(f"{what} must be auto or one of {', '.join(allowed)}, got {choice!r}")
    return (choice,)


def train_model(history: History, *, estimator: str = "auto", calibration: str = "auto",
                holdout_fraction: float = 0.2, rng: np.random.Generator | None = None,
                **params: Any) -> TrainResult:
    """Fit a ConversionModel on ``history``, choosing ``estimator`` and ``calibration`` by the
    holdout Brier score when they are ``"auto"``.

    ``holdout_fraction`` of the rows, the latest by ``assigned_at``, are held out for the
    choice and the card's figures; 0 skips the holdout (then both choices must be given).
    ``params`` go to ``ConversionModel`` (target, ipw, ipw_clip, ...). The same seed drives
    every candidate, so they see the same folds.
    """
    estimators = _expand(estimator, ESTIMATORS, "estimator")
    calibrations = _expand(calibration, CALIBRATIONS, "calibration")
    seed = int((rng if rng is not None else np.random.default_rng(0)).integers(2**63 - 1))
    if holdout_fraction == 0:
        if len(estimators) * len(calibrations) > 1:
            raise ValueError("choosing the estimator or calibration (auto) needs a holdout; "
                             "give holdout_fraction > 0 or name both")
        model = ConversionModel(estimator=estimators[0], calibration=calibrations[0], **params)
        return TrainResult(model.fit(history, np.random.default_rng(seed)), None, 0.0)
    early, late = history.time_split(holdout_fraction)
    candidates: list[Candidate] = []
    for est, cal in product(estimators, calibrations):
        model = ConversionModel(estimator=est, calibration=cal, **params)
        model.fit(early, np.random.default_rng(seed))
        y = late.with_target(model.target).y
        candidates.append(Candidate(est, cal, evaluate(y, model.predict_history(late))))
    best = min(candidates, key=lambda c: c.metrics.brier)
    final = ConversionModel(estimator=best.estimator, calibration=best.calibration, **params)
    final.fit(history, np.random.default_rng(seed))
    return TrainResult(final, best.metrics, holdout_fraction, tuple(candidates))


def evaluate_model(model: ConversionModel, history: History) -> tuple[Metrics, np.ndarray]:
    """Figures for the logged pairs of ``history`` and the (N,) probabilities behind them."""
    p = model.predict_history(history)
    return evaluate(history.with_target(model.target).y, p), p


def holdout_warnings(result: TrainResult, history: History) -> list[str]:
    """The card's warnings: the holdout (latest rows) converting at a base rate that drifted
    from the earlier rows' (``engine.scoring.metrics.base_rate_drift``)."""
    if result.holdout is None:
        return []
    early, late = history.with_target(result.model.target).time_split(result.holdout_fraction)
    found = base_rate_drift(float(early.y.mean()), len(early), float(late.y.mean()), len(late))
    return [] if found is None else [f"holdout {found}"]


def library_versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "absent"
    return found


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def model_card(result: TrainResult, history: History) -> dict[str, Any]:
    """The model card (JSON-ready): what the model predicts, from which data (SHA-256 of the
    history file), which features, how well on the holdout, with which library versions."""
    model = result.model
    start, end = model.training_window_
    return {
        "name": MODEL_NAME,
        "format": MODEL_FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "predicts": f"probability that a routed lead reaches '{model.target}' with the officer "
                    "it is routed to",
        "target": model.target,
        "estimator": model.estimator,
        "calibration": model.calibration,
        "params": model.get_params(),
        "training": {
            "history_file": history.source,
            "data_sha256": history.sha256,
            "rows": len(history),
            "window": {"from": _iso(start), "to": _iso(end)},
            "base_rate": round(model.base_rate_, 6),
            "logging_policies": dict(Counter(
                f"{p} v{v}" for p, v in zip(history.policy, history.policy_version,
                                            strict=True))),
            "propensity_range": [float(history.propensity.min()),
                                 float(history.propensity.max())],
            "dropped_unknown_officers": history.dropped_unknown_officers,
            "excluded_protected_columns": list(history.excluded_columns),
            "ignored_columns": list(history.ignored_columns),
        },
        "features": list(model.feature_names_),
        "selection": {
            "holdout_fraction": result.holdout_fraction,
            "holdout": "the latest rows by assigned_at; the model was refitted on all rows "
                       "after the choice",
            "criterion": "lowest Brier score on the holdout",
            "candidates": [c.to_dict() for c in result.candidates],
        },
        "metrics": {"holdout": None if result.holdout is None else result.holdout.to_dict()},
        "warnings": holdout_warnings(result, history),
        "libraries": library_versions(),
    }
