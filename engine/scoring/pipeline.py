"""The scikit-learn pipeline: a column step, a classifier, and probability calibration.

Stock parts only: ``ColumnTransformer`` -> ``CalibratedClassifierCV`` wrapping either a
``HistGradientBoostingClassifier`` (default) or a ``LogisticRegression`` on imputed, scaled
columns. The feature builder hands over a plain float matrix (categories already one-hot), so
the column step stays cheap: scoring a thousand officers must take a few milliseconds, and
every extra transformer costs a fraction of one.

Calibration uses ``ensemble=False``: the classifier is fitted once on all rows and the
calibrator on out-of-fold predictions, so predicting costs one classifier, not one per fold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

Estimator = Literal["hgb", "logistic"]
Calibration = Literal["isotonic", "sigmoid"]
ESTIMATORS: tuple[str, ...] = ("hgb", "logistic")
CALIBRATIONS: tuple[str, ...] = ("isotonic", "sigmoid")


@dataclass(frozen=True)
class BoostingParams:
    """Size of the gradient-boosted model. Prediction time grows with the number of trees,
    so the defaults trade a little fit for a fast score of a thousand officers: a fairly high
    learning rate, at most ``max_iter`` trees, early stopping on a validation split."""

    max_iter: int = 60
    learning_rate: float = 0.2
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0

    def __post_init__(self) -> None:
        if self.max_iter < 1:
            raise ValueError(f"max_iter must be at least 1, got {self.max_iter}")
        if not 0 < self.learning_rate <= 1:
            raise ValueError(f"learning_rate must be in (0, 1], got {self.learning_rate}")
        if self.max_leaf_nodes < 2:
            raise ValueError(f"max_leaf_nodes must be at least 2, got {self.max_leaf_nodes}")
        if self.min_samples_leaf < 1:
            raise ValueError(f"min_samples_leaf must be at least 1, got {self.min_samples_leaf}")
        if self.l2_regularization < 0:
            raise ValueError(f"l2_regularization must be >= 0, got {self.l2_regularization}")


def build_pipeline(n_features: int, *, estimator: Estimator = "hgb",
                   calibration: Calibration = "isotonic", calibration_folds: int = 5,
                   boosting: BoostingParams | None = None, impute: bool = False,
                   random_state: int = 0) -> Pipeline:
    """An unfitted ``Pipeline(columns -> calibrated classifier)`` for an (N, n_features) float
    matrix. The trees route NaN themselves; the linear model needs ``impute=True`` for input
    with NaN (median plus a missing-value indicator; the conversion features have no NaN, so
    they skip that step). ``random_state`` seeds the calibration folds and the boosting's
    validation split.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {', '.join(ESTIMATORS)}, got {estimator!r}")
    if calibration not in CALIBRATIONS:
        raise ValueError(
            f"calibration must be one of {', '.join(CALIBRATIONS)}, got {calibration!r}")
    if calibration_folds < 2:
        raise ValueError(f"calibration_folds must be at least 2, got {calibration_folds}")
    every = list(range(n_features))
    model: HistGradientBoostingClassifier | LogisticRegression
    if estimator == "hgb":
        b = boosting or BoostingParams()
        # Trees need no scaling or imputation; the column step only checks the width.
        columns = ColumnTransformer([("features", "passthrough", every)])
        model = HistGradientBoostingClassifier(
            max_iter=b.max_iter, learning_rate=b.learning_rate,
            max_leaf_nodes=b.max_leaf_nodes, min_samples_leaf=b.min_samples_leaf,
            l2_regularization=b.l2_regularization,
            early_stopping=True, validation_fraction=0.1, n_iter_no_change=10,
            random_state=random_state,
        )
    else:
        inner: Any = StandardScaler()
        if impute:
            inner = Pipeline([("impute", SimpleImputer(strategy="median", add_indicator=True)),
                              ("scale", StandardScaler())])
        columns = ColumnTransformer([("features", inner, every)])
        model = LogisticRegression(C=1.0, max_iter=2000)
    folds = StratifiedKFold(n_splits=calibration_folds, shuffle=True, random_state=random_state)
    calibrated = CalibratedClassifierCV(model, method=calibration, cv=folds, ensemble=False)
    return Pipeline([("columns", columns), ("calibrated", calibrated)])
