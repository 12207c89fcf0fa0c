"""Saving and loading models with skops (never pickle), beside a JSON model card.

``MODEL.skops`` holds plain data (dicts, lists, numpy arrays) and the fitted scikit-learn
pipeline; ``MODEL.card.json`` next to it says what the model is (see
``engine.scoring.training.model_card``) and records the SHA-256 of the .skops file.

Loading refuses any type that skops does not trust by default and that is not on
``TRUSTED_TYPES``, the exact list a leadroute model contains; checks the card's hash when a card
is present; and checks that the pipeline still gives the probabilities it gave when saved.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from engine.scoring.features import feature_names
from engine.scoring.model import ConversionModel
from engine.scoring.training import MODEL_FORMAT

# Types a leadroute model file may contain beyond those skops trusts by default: scikit-learn's
# calibration and tree internals, the fold splitter, numpy dtypes. Anything else is refused.
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.model_selection._split.StratifiedKFold",
)
# Relative tolerance for the saved-versus-loaded probability check; exact equality is expected
# with the same libraries, and a different BLAS may move the last bits.
PROBE_RTOL = 1e-9


class ModelFileError(ValueError):
    """A model file that cannot be trusted or used; the message names the file and why."""


def card_path(model_path: str | Path) -> Path:
    """``MODEL.skops`` -> ``MODEL.card.json`` (same folder)."""
    path = Path(model_path)
    return path.with_name(path.stem + ".card.json")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_model(model: ConversionModel, path: str | Path,
               card: dict[str, Any] | None = None) -> Path:
    """Write ``model`` to ``path`` with skops and ``card`` (plus the file's SHA-256) to
    ``card_path(path)``; return the card's path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"format": MODEL_FORMAT, **model.to_state()}
    sio.dump(state, path)
    out = dict(card or {})
    out["model_file"] = {"name": path.name, "sha256": _sha256(path), "serializer": "skops"}
    target = card_path(path)
    target.write_text(json.dumps(out, indent=2, sort_keys=False, default=str) + "\n",
                      encoding="utf-8")
    return target


def load_card(path: str | Path) -> dict[str, Any] | None:
    """The model card beside ``path``, or None when there is none."""
    target = card_path(path)
    if not target.exists():
        return None
    try:
        card: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{target}: is not valid JSON ({exc})") from None
    return card


def load_model(path: str | Path, *, trust_unverified: bool = False) -> ConversionModel:
    """Load a model saved by ``save_model``; ModelFileError if the file holds unexpected types,
    does not match its card, or no longer reproduces its saved probabilities.

    The card's SHA-256 is what ties the file to the training run it describes, so a file
    without its card (or a card without the hash) is refused unless ``trust_unverified``: an
    explicit choice to use a file whose origin cannot be checked (the type check and the
    probe check still run)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    card = load_card(path)
    expected = (card.get("model_file") or {}).get("sha256") if card is not None else None
    if not expected and not trust_unverified:
        what = "has no SHA-256 of the model file" if card is not None else "is missing"
        raise ModelFileError(
            f"{path}: its model card {card_path(path).name} {what}, so the file cannot be "
            "verified; restore the card written with it, or pass --trust-unverified "
            "(trust_unverified=True) if you know where the file came from")
    if expected and expected != _sha256(path):
        raise ModelFileError(
            f"{path}: SHA-256 does not match {card_path(path).name}; the card describes "
            "another model file")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # skops raises several kinds for a file that is not its format
        raise ModelFileError(f"{path}: is not a skops file ({exc})") from None
    unexpected = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unexpected:
        raise ModelFileError(
            f"{path}: refused: it contains types a leadroute model never holds: "
            + ", ".join(unexpected))
    state = sio.load(path, trusted=list(untrusted))
    _check_state(state, path)
    model = ConversionModel.from_state(state)
    expected_features = feature_names(model.vocabulary_)
    if model.feature_names_ != expected_features:
        extra = sorted(set(expected_features) - set(model.feature_names_))
        raise ModelFileError(
            f"{path}: the model was trained on another feature set than this version builds"
            + (f" (it lacks {', '.join(extra)})" if extra else "")
            + "; retrain it with `leadroute model train`")
    probe = state["probe"]
    saved = np.asarray(probe["p"], dtype=float)
    now = model.pipeline_.predict_proba(model.probe_x_)[:, 1]
    if not np.allclose(now, saved, rtol=PROBE_RTOL, atol=1e-12):
        raise ModelFileError(
            f"{path}: the loaded pipeline gives different probabilities from when it was saved "
            f"(largest difference {np.max(np.abs(now - saved)):.3g}); were the library "
            "versions in the model card different?")
    return model


def _check_state(state: object, path: Path) -> None:
    if not isinstance(state, dict) or state.get("format") != MODEL_FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise ModelFileError(f"{path}: expected a {MODEL_FORMAT} model, found {found!r}")
    pipeline = state.get("pipeline")
    if not (isinstance(pipeline, Pipeline) and len(pipeline.steps) == 2
            and isinstance(pipeline[0], ColumnTransformer)
            and isinstance(pipeline[-1], CalibratedClassifierCV)):
        raise ModelFileError(
            f"{path}: expected a Pipeline of ColumnTransformer and CalibratedClassifierCV")
    missing = [k for k in ("params", "vocabulary", "stats", "feature_names", "probe")
               if k not in state]
    if missing:
        raise ModelFileError(f"{path}: model state lacks {', '.join(missing)}")
