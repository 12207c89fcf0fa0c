"""The synthetic generator: seeded, valid, and with the structure the docs describe."""

from __future__ import annotations

import numpy as np
import pytest

from engine.scoring.history import History
from engine.scoring.metrics import evaluate
from engine.scoring.synthetic import DECOY_COLUMNS, SyntheticHistory, make_synthetic_history


def test_synthetic_history_is_reproducible_from_the_seed() -> None:
    """The same seed gives the same rows and probabilities; another seed does not."""
    a = make_synthetic_history(np.random.default_rng(7), n_leads=300, n_officers=8)
    b = make_synthetic_history(np.random.default_rng(7), n_leads=300, n_officers=8)
    c = make_synthetic_history(np.random.default_rng(8), n_leads=300, n_officers=8)
    assert a.history_rows == b.history_rows and np.array_equal(a.true_p, b.true_p)
    assert a.history_rows != c.history_rows


def test_synthetic_history_passes_validation(small_world: SyntheticHistory,
                                             small_history: History) -> None:
    """Every generated row is a valid history row; rows are in time order."""
    assert len(small_history) == len(small_world.history_rows)
    assert np.all(np.diff(small_history.assigned_s) >= -120)  # assignment within 2 min
    assert np.all((small_history.propensity > 0) & (small_history.propensity <= 1))
    assert set(DECOY_COLUMNS) <= set(small_world.header)


def test_synthetic_outcomes_follow_the_true_probability(small_world: SyntheticHistory,
                                                        small_history: History) -> None:
    """funded is drawn from true_p: its rate matches the mean of true_p and true_p is well
    calibrated against it."""
    p = small_world.true_p
    assert np.all((p > 0) & (p < 1))
    m = evaluate(small_history.y, p)
    assert m.base_rate == pytest.approx(p.mean(), abs=0.02)
    assert 0.08 < m.base_rate < 0.2
    assert m.auc > 0.6


def test_synthetic_logging_policy_favours_matches(small_history: History) -> None:
    """The logging policy sends Spanish-speaking borrowers mostly to Spanish speakers (the
    selection bias the model has to live with)."""
    roster = small_history.roster
    spanish = np.array([lead.language == "es" for lead in small_history.leads])
    speaks = np.array(["es" in roster.officers[i].languages for i in small_history.officer_idx])
    share_of_officers = np.mean(["es" in o.languages for o in roster.officers])
    assert speaks[spanish].mean() > share_of_officers + 0.2
