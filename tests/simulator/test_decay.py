"""The response-delay decay reproduces the lead response studies' odds ratios."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.decay import Competitor, ResponseDecay
from simulator.errors import ParamError

MIN = 60.0


def test_decay_odds_5_vs_30_minutes_is_21():
    """Odds of qualifying: 21 times higher at 5 minutes than at 30 (MIT/InsideSales 2007)."""
    d = ResponseDecay()
    assert d.odds_multiplier(5 * MIN) / d.odds_multiplier(30 * MIN) == pytest.approx(21, rel=1e-3)


def test_decay_first_hour_vs_second_hour_is_7():
    """Contact within the first hour vs the hour after: about 7 times the odds (HBR 2011)."""
    d = ResponseDecay()
    ratio = d.window_mean(0, 60 * MIN) / d.window_mean(60 * MIN, 120 * MIN)
    assert ratio == pytest.approx(7, rel=0.01)


def test_decay_first_hour_vs_after_a_day_is_60():
    """Within the first hour vs 24 hours or later: about 60 times the odds (HBR 2011)."""
    d = ResponseDecay()
    later = d.window_mean(24 * 60 * MIN, 72 * 60 * MIN)
    assert d.window_mean(0, 60 * MIN) / later == pytest.approx(60, rel=0.01)


def test_decay_never_rises_with_delay_and_is_flat_in_the_first_five_minutes():
    """The multiplier is 1 up to 5 minutes and never increases with delay."""
    d = ResponseDecay(competitor=Competitor(1800, 0.5))
    t = np.linspace(0, 3 * 86400, 5001)
    g = d.odds_multipliers(t)
    assert np.all(np.diff(g) <= 1e-15)
    assert np.all(g[t <= 5 * MIN] == 1.0)
    p = d.contact_probabilities(np.full(len(t), 0.4), t)
    assert np.all(np.diff(p) <= 1e-15)


def test_decay_scalar_and_vector_agree():
    """The hot-path scalar and the vectorized curve are the same function."""
    d = ResponseDecay(flatten=0.3, competitor=Competitor(2400, 0.3))
    t = np.array([0.0, 10.0, 299.0, 301.0, 1000.0, 5000.0, 20000.0, 90000.0, 500000.0])
    scalar = [d.contact_probability(0.35, x) for x in t]
    np.testing.assert_allclose(scalar, d.contact_probabilities(np.full(len(t), 0.35), t))


def test_flatten_one_removes_the_effect_and_flatten_softens_it():
    """flatten 1 means delay does not matter; flatten 0.5 halves the log-odds effect."""
    assert ResponseDecay(flatten=1.0).odds_multiplier(86400) == 1.0
    full = ResponseDecay().odds_multiplier(3600)
    assert ResponseDecay(flatten=0.5).odds_multiplier(3600) == pytest.approx(np.sqrt(full))


def test_competitor_first_contact_lowers_the_probability():
    """A competitor who may call first takes a share of slow-contacted leads."""
    plain, raced = ResponseDecay(), ResponseDecay(competitor=Competitor(1800, 0.5))
    assert raced.contact_probability(0.4, 0) == plain.contact_probability(0.4, 0)
    assert raced.contact_probability(0.4, 3600) < plain.contact_probability(0.4, 3600)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"flatten": 1.5}, "flatten"),
    ({"knots": ((300.0, 1.0), (200.0, 0.5))}, "knots"),
    ({"knots": ((300.0, 0.9),)}, "knots"),
    ({"knots": ((300.0, 1.0), (600.0, 1.2))}, "knots"),
])
def test_bad_decay_parameters_name_the_field(kwargs, field):
    """Out-of-range decay parameters raise a ParamError naming the field."""
    with pytest.raises(ParamError) as err:
        ResponseDecay(**kwargs)
    assert err.value.field == field
