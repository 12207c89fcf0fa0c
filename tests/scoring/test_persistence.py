"""skops persistence: round trip, model card, and refusal of anything unexpected."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio

from engine.roster import Roster
from engine.scoring.history import History, file_sha256, load_history
from engine.scoring.model import ConversionModel
from engine.scoring.persistence import (
    ModelFileError,
    card_path,
    load_card,
    load_model,
    save_model,
)
from engine.scoring.synthetic import SyntheticHistory
from engine.scoring.training import MODEL_FORMAT, model_card, train_model

NOW = datetime(2025, 1, 21, 15, 30, tzinfo=UTC)


class Payload:
    """Stands for code an attacker would like a model file to run."""


@pytest.mark.parametrize("fixture", ["fitted_hgb", "fitted_logistic"])
def test_save_and_load_give_identical_predictions(
        request: pytest.FixtureRequest, tmp_path: Path, small_history: History,
        fixture: str) -> None:
    """A saved and reloaded model scores every pair exactly as before."""
    model: ConversionModel = request.getfixturevalue(fixture)
    path = tmp_path / "model.skops"
    save_model(model, path, {"note": "test"})
    loaded = load_model(path)
    leads = list(small_history.leads[:10])
    np.testing.assert_array_equal(loaded.predict_matrix(leads, small_history.roster, None, NOW),
                                  model.predict_matrix(leads, small_history.roster, None, NOW))
    assert loaded.get_params() == model.get_params()
    assert loaded.feature_names_ == model.feature_names_


def test_saved_file_is_not_a_pickle(tmp_path: Path, fitted_hgb: ConversionModel) -> None:
    """The model file is a skops zip archive, not a pickle stream."""
    path = tmp_path / "model.skops"
    save_model(fitted_hgb, path)
    assert path.read_bytes()[:2] == b"PK"


def test_model_card_records_data_features_metrics_and_versions(
        tmp_path: Path, small_world: SyntheticHistory, small_roster: Roster) -> None:
    """The card beside the model has the training window, feature names, holdout figures,
    the history file's SHA-256, library versions and the model file's own hash."""
    _, history_path = small_world.split(0.5)[0].write(tmp_path)
    history = load_history(history_path, small_roster)
    result = train_model(history, estimator="logistic", calibration="sigmoid",
                         holdout_fraction=0.25, rng=np.random.default_rng(1))
    card = model_card(result, history)
    path = tmp_path / "m.skops"
    written = save_model(result.model, path, card)
    assert written == card_path(path) == tmp_path / "m.card.json"
    on_disk = json.loads(written.read_text())
    assert on_disk == load_card(path)
    assert on_disk["format"] == MODEL_FORMAT
    assert on_disk["training"]["rows"] == 1500
    assert on_disk["training"]["data_sha256"] == file_sha256(history_path)
    assert on_disk["training"]["window"]["from"] <= on_disk["training"]["window"]["to"]
    assert on_disk["features"] == list(result.model.feature_names_)
    assert set(on_disk["metrics"]["holdout"]) >= {"auc", "brier", "ece", "calibration_slope"}
    assert {"numpy", "scikit-learn", "skops", "python"} <= set(on_disk["libraries"])
    assert len(on_disk["model_file"]["sha256"]) == 64
    assert on_disk["training"]["excluded_protected_columns"] == ["applicant_race", "age",
                                                                 "gender"]


@pytest.mark.parametrize("intruder", [os.system, Payload()], ids=["function", "class"])
def test_load_refuses_unexpected_types(tmp_path: Path, fitted_hgb: ConversionModel,
                                       intruder: object) -> None:
    """A file holding any type a leadroute model never holds is refused before loading."""
    path = tmp_path / "evil.skops"
    state = {"format": MODEL_FORMAT, **fitted_hgb.to_state(), "hook": intruder}
    sio.dump(state, path)
    with pytest.raises(ModelFileError, match="refused: it contains types"):
        load_model(path, trust_unverified=True)


def test_load_refuses_a_file_that_does_not_match_its_card(
        tmp_path: Path, fitted_hgb: ConversionModel, fitted_logistic: ConversionModel) -> None:
    """A model file swapped under its card fails the card's SHA-256 check."""
    path = tmp_path / "m.skops"
    save_model(fitted_hgb, path)
    card = card_path(path).read_text()
    save_model(fitted_logistic, path)
    card_path(path).write_text(card)
    with pytest.raises(ModelFileError, match="SHA-256 does not match"):
        load_model(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a zip file", "is not a skops file"),
        (None, "no such model file"),
    ],
)
def test_load_reports_unusable_files(tmp_path: Path, content: bytes | None,
                                     message: str) -> None:
    """A missing file or one that is not a skops archive raises ModelFileError."""
    path = tmp_path / "m.skops"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        load_model(path, trust_unverified=True)


def test_load_refuses_another_kind_of_object(tmp_path: Path) -> None:
    """A skops file holding something other than a leadroute model is refused."""
    path = tmp_path / "m.skops"
    sio.dump({"format": "something-else"}, path)
    with pytest.raises(ModelFileError, match=r"expected a leadroute\.scoring/1 model"):
        load_model(path, trust_unverified=True)


def test_load_refuses_a_model_whose_card_was_deleted(tmp_path: Path,
                                                     fitted_hgb: ConversionModel) -> None:
    """A tampered file whose card was deleted cannot be verified: refused, unless the caller
    says explicitly to trust it."""
    path = tmp_path / "m.skops"
    save_model(fitted_hgb, path)
    card_path(path).unlink()
    with pytest.raises(ModelFileError, match=r"card m\.card\.json is missing.*--trust-unverified"):
        load_model(path)
    assert load_model(path, trust_unverified=True).target == fitted_hgb.target


def test_load_refuses_a_card_without_the_file_hash(tmp_path: Path,
                                                   fitted_hgb: ConversionModel) -> None:
    """A card stripped of the model file's SHA-256 verifies nothing: refused."""
    path = tmp_path / "m.skops"
    save_model(fitted_hgb, path)
    card = json.loads(card_path(path).read_text())
    del card["model_file"]
    card_path(path).write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="has no SHA-256"):
        load_model(path)


def test_load_refuses_a_model_trained_on_an_older_feature_set(
        tmp_path: Path, fitted_hgb: ConversionModel) -> None:
    """A model saved before the time features existed cannot score today's matrix: a clear
    error naming what it lacks, not a shape error from scikit-learn at the first lead."""
    path = tmp_path / "old.skops"
    state = {"format": MODEL_FORMAT, **fitted_hgb.to_state()}
    state["feature_names"] = state["feature_names"][:-7]
    sio.dump(state, path)
    with pytest.raises(ModelFileError, match=r"another feature set.*log_since_received_s"):
        load_model(path, trust_unverified=True)
