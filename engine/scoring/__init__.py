"""Conversion scoring: p(convert | lead, officer) for whole rosters, calibrated and saved safely.

A routing policy gets the leads x officers probability matrix in one call::

    from engine.scoring import load_model
    model = load_model("model.skops")
    p = model.predict_matrix(leads, roster, open_leads=state.open_leads, now=now)  # (L, M)

Training: ``load_history`` -> ``train_model`` -> ``save_model`` (with ``model_card``).
See docs/scoring.md for the history format, the features and how selection bias is handled.
"""

from engine.scoring.features import feature_names
from engine.scoring.history import (
    HISTORY_COLUMNS,
    OUTCOME_COLUMNS,
    History,
    history_from_rows,
    load_history,
)
from engine.scoring.metrics import Metrics, evaluate
from engine.scoring.model import ConversionModel
from engine.scoring.persistence import (
    TRUSTED_TYPES,
    ModelFileError,
    card_path,
    load_card,
    load_model,
    save_model,
)
from engine.scoring.training import TrainResult, evaluate_model, model_card, train_model

__all__ = [
    "HISTORY_COLUMNS",
    "OUTCOME_COLUMNS",
    "TRUSTED_TYPES",
    "ConversionModel",
    "History",
    "Metrics",
    "ModelFileError",
    "TrainResult",
    "card_path",
    "evaluate",
    "evaluate_model",
    "feature_names",
    "history_from_rows",
    "load_card",
    "load_history",
    "load_model",
    "model_card",
    "save_model",
    "train_model",
]
