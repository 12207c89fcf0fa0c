"""The conversion model: vectorized scoring, protected columns, weights, bad input."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from engine.errors import InputError
from engine.fair_lending import protected_characteristic
from engine.roster import Roster
from engine.scoring.features import LeadBlock, Timing, assemble, officer_local_clock
from engine.scoring.history import History
from engine.scoring.model import ConversionModel
from engine.scoring.synthetic import DECOY_COLUMNS, SyntheticHistory
from engine.state import RoutingState

NOW = datetime(2025, 1, 21, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize("fixture", ["fitted_hgb", "fitted_logistic"])
def test_predict_matrix_equals_row_by_row(request: pytest.FixtureRequest,
                                          small_history: History, fixture: str) -> None:
    """One (L, M) call gives exactly what L one-lead calls give, and probabilities in (0, 1)."""
    model: ConversionModel = request.getfixturevalue(fixture)
    roster = small_history.roster
    leads = list(small_history.leads[:7])
    load = np.arange(len(roster), dtype=float)
    matrix = model.predict_matrix(leads, roster, load, NOW)
    assert matrix.shape == (7, len(roster))
    assert np.all((matrix >= 0) & (matrix <= 1))
    rows = np.vstack([model.predict_matrix([lead], roster, load, NOW) for lead in leads])
    np.testing.assert_array_equal(matrix, rows)


@pytest.mark.parametrize("fixture", ["fitted_hgb", "fitted_logistic"])
def test_scoring_shortcut_gives_the_pipelines_probabilities(
        request: pytest.FixtureRequest, small_history: History, fixture: str) -> None:
    """Small batches skip the Pipeline plumbing and still give what
    pipeline_.predict_proba gives, to 1e-12."""
    model: ConversionModel = request.getfixturevalue(fixture)
    assert model.uses_shortcut
    roster = small_history.roster
    x_leads = list(small_history.leads[:40])
    fast = model.predict_matrix(x_leads, roster, None, NOW)
    block = LeadBlock.build(x_leads, model.vocabulary_)
    m = len(roster)
    lead_rows = np.repeat(np.arange(len(x_leads)), m)
    officer_rows = np.tile(np.arange(m), len(x_leads))
    # the batch path's timing, rebuilt the way training builds it (pandas, row by row)
    now_s = np.full(len(lead_rows), NOW.timestamp())
    hours, minutes = officer_local_clock(now_s, officer_rows, roster)
    timing = Timing.at(now_s, block, lead_rows, officer_rows, roster, minutes)
    x = assemble(block, lead_rows, officer_rows, model.tables_for(roster), hours,
                 np.full(m * len(x_leads), model.stats_.median_open_leads), timing)
    slow = model.pipeline_.predict_proba(x)[:, 1].reshape(len(x_leads), m)
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-15)


def test_predict_matrix_agrees_with_logged_pair_scoring(fitted_hgb: ConversionModel,
                                                        small_history: History) -> None:
    """The matrix entry for (lead i, its officer) equals predict_history's row i when given
    the same load and time."""
    h = small_history.take(np.arange(5))
    logged = fitted_hgb.predict_history(h)
    roster = h.roster
    for i, lead in enumerate(h.leads):
        load = np.zeros(len(roster))
        load[h.officer_idx[i]] = h.open_leads[i]
        when = datetime.fromtimestamp(h.assigned_s[i], UTC)
        row = fitted_hgb.predict_matrix([lead], roster, load, when)
        assert row[0, h.officer_idx[i]] == pytest.approx(logged[i], abs=1e-12)


def test_predict_matrix_responds_to_load(fitted_logistic: ConversionModel,
                                         small_history: History) -> None:
    """Changing one officer's open leads changes only that officer's column."""
    roster = small_history.roster
    leads = list(small_history.leads[:3])
    base = fitted_logistic.predict_matrix(leads, roster, np.zeros(len(roster)), NOW)
    busy = np.zeros(len(roster))
    busy[4] = 200
    changed = fitted_logistic.predict_matrix(leads, roster, busy, NOW)
    others = np.delete(np.arange(len(roster)), 4)
    np.testing.assert_array_equal(base[:, others], changed[:, others])
    assert not np.allclose(base[:, 4], changed[:, 4])


def test_predict_for_state_aligns_state_with_roster(fitted_hgb: ConversionModel,
                                                    small_history: History) -> None:
    """A state listing officers in another order is re-laid onto the roster's order."""
    roster = small_history.roster
    ids = list(reversed(roster.ids_tuple))
    state = RoutingState.empty(ids)
    state.open_leads[:] = np.arange(len(ids))
    expected_load = np.array([ids.index(oid) for oid in roster.ids_tuple], dtype=float)
    leads = list(small_history.leads[:2])
    np.testing.assert_array_equal(
        fitted_hgb.predict_for_state(leads, roster, state, NOW),
        fitted_hgb.predict_matrix(leads, roster, expected_load, NOW))


def test_predict_matrix_scores_a_roster_it_was_not_trained_on(
        fitted_hgb: ConversionModel, small_history: History) -> None:
    """A roster in another order (or with other officers) is matched by officer id."""
    roster = small_history.roster
    flipped = Roster(list(reversed(roster.officers)))
    leads = list(small_history.leads[:2])
    a = fitted_hgb.predict_matrix(leads, roster, None, NOW)
    b = fitted_hgb.predict_matrix(leads, flipped, None, NOW)
    np.testing.assert_array_equal(a, b[:, ::-1])


@pytest.mark.parametrize(
    ("load", "now", "message"),
    [
        (np.zeros(3), NOW, "open_leads must have shape"),
        (None, datetime(2025, 1, 21, 15, 30), "timezone-aware"),
    ],
)
def test_predict_matrix_rejects_bad_arguments(fitted_hgb: ConversionModel,
                                              small_history: History, load: np.ndarray | None,
                                              now: datetime, message: str) -> None:
    """A load vector of the wrong length or a naive time raises ValueError."""
    with pytest.raises(ValueError, match=message):
        fitted_hgb.predict_matrix(list(small_history.leads[:1]), small_history.roster, load, now)


def test_predict_matrix_handles_empty_input(fitted_hgb: ConversionModel,
                                            small_history: History) -> None:
    """No leads gives a (0, M) matrix."""
    assert fitted_hgb.predict_matrix([], small_history.roster, None, NOW).shape == (0, 20)


def test_model_never_uses_protected_columns(small_world: SyntheticHistory,
                                            small_roster: Roster,
                                            fitted_hgb: ConversionModel) -> None:
    """With race, age and gender columns that track the outcome in the history, no feature
    names a protected characteristic, and the fit and predictions are identical to a fit on
    the same history without those columns."""
    with_decoys = small_world.history(small_roster)
    without = small_world.without_columns(DECOY_COLUMNS).history(small_roster)
    assert set(with_decoys.excluded_columns) == set(DECOY_COLUMNS)
    assert without.excluded_columns == ()
    names = fitted_hgb.feature_names_
    assert all(protected_characteristic(n) is None for n in names), names
    assert not set(DECOY_COLUMNS) & {n.split('=')[0] for n in names}
    plain = ConversionModel(estimator="hgb", calibration="isotonic").fit(
        without, np.random.default_rng(5))
    assert plain.feature_names_ == names
    leads = list(with_decoys.leads[:25])
    np.testing.assert_array_equal(
        fitted_hgb.predict_matrix(leads, small_roster, None, NOW),
        plain.predict_matrix(leads, small_roster, None, NOW))
    np.testing.assert_array_equal(fitted_hgb.predict_history(with_decoys),
                                  plain.predict_history(without))


def test_ipw_weights_are_clipped_inverse_propensities(small_history: History) -> None:
    """Weights are min(1/propensity, clip), scaled to mean 1; off means no weights."""
    model = ConversionModel(ipw=True, ipw_clip=10.0)
    w = model.sample_weight(small_history)
    assert w is not None
    raw = np.minimum(1 / small_history.propensity, 10.0)
    np.testing.assert_allclose(w, raw / raw.mean())
    assert w.max() / w.min() <= 10.0 / np.min(1 / small_history.propensity) + 1e-9
    assert ConversionModel().sample_weight(small_history) is None


def test_ipw_fit_changes_the_model(small_history: History,
                                   fitted_logistic: ConversionModel) -> None:
    """Fitting with inverse-propensity weights gives a different model on the same data."""
    weighted = ConversionModel(estimator="logistic", calibration="sigmoid", ipw=True).fit(
        small_history, np.random.default_rng(5))
    leads = list(small_history.leads[:5])
    assert not np.allclose(weighted.predict_matrix(leads, small_history.roster, None, NOW),
                           fitted_logistic.predict_matrix(leads, small_history.roster, None,
                                                          NOW))


def test_fit_refuses_a_history_with_one_outcome(small_history: History) -> None:
    """A history where nobody (or everybody) converted cannot train a model."""
    never = small_history.take(np.flatnonzero(small_history.y == 0)[:200])
    with pytest.raises(InputError, match=r"funded='0 of 200 rows with funded=1'"):
        ConversionModel().fit(never)


def test_fit_names_the_file_and_column_when_positives_are_too_few(
        small_history: History) -> None:
    """Four funded rows cannot fill five calibration folds: a clear error naming the history
    file and the target column, not scikit-learn's message about n_splits."""
    y = small_history.y
    rows = np.concatenate((np.flatnonzero(y == 1)[:4], np.flatnonzero(y == 0)[:300]))
    few = small_history.take(np.sort(rows))
    with pytest.raises(InputError) as caught:
        ConversionModel(estimator="logistic", calibration="sigmoid").fit(few)
    problem = caught.value.problems[0]
    assert problem.where == small_history.source and problem.field == "funded"
    assert "4 of 304 rows with funded=1" in str(caught.value)
    assert "at least 5" in str(caught.value)


def test_fit_can_predict_another_target(small_history: History) -> None:
    """target='contacted' trains on the contacted column and predicts its higher base rate."""
    model = ConversionModel(target="contacted", estimator="logistic",
                            calibration="sigmoid").fit(small_history)
    assert model.base_rate_ == pytest.approx(small_history.outcomes["contacted"].mean())
    p = model.predict_history(small_history)
    assert p.mean() == pytest.approx(small_history.outcomes["contacted"].mean(), abs=0.03)


def test_fit_is_reproducible_with_the_same_generator(small_history: History,
                                                     fitted_hgb: ConversionModel) -> None:
    """Same history, same seed: identical predictions."""
    again = ConversionModel(estimator="hgb", calibration="isotonic").fit(
        small_history, np.random.default_rng(5))
    np.testing.assert_array_equal(again.predict_history(small_history),
                                  fitted_hgb.predict_history(small_history))
