"""Shared fixtures for the scoring tests: small seeded synthetic worlds and models fitted once
per session (fitting is the slow part)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.roster import Roster
from engine.scoring.history import History
from engine.scoring.model import ConversionModel
from engine.scoring.synthetic import SyntheticHistory, make_synthetic_history


@pytest.fixture(scope="session")
def small_world() -> SyntheticHistory:
    """3,000 routed leads, 20 officers in 4 teams, with protected decoy columns."""
    return make_synthetic_history(np.random.default_rng(11), n_leads=3000, n_officers=20,
                                  decoys=True)


@pytest.fixture(scope="session")
def small_roster(small_world: SyntheticHistory) -> Roster:
    return small_world.roster()


@pytest.fixture(scope="session")
def small_history(small_world: SyntheticHistory, small_roster: Roster) -> History:
    return small_world.history(small_roster)


@pytest.fixture(scope="session")
def fitted_hgb(small_history: History) -> ConversionModel:
    return ConversionModel(estimator="hgb", calibration="isotonic").fit(
        small_history, np.random.default_rng(5))


@pytest.fixture(scope="session")
def fitted_logistic(small_history: History) -> ConversionModel:
    return ConversionModel(estimator="logistic", calibration="sigmoid").fit(
        small_history, np.random.default_rng(5))
