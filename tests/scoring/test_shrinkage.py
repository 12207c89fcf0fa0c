"""Empirical-Bayes shrinkage and cold start: records count in proportion to their size."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from engine.roster import Roster, parse_officer
from engine.scoring.features import HistoryStats, RateCounts
from engine.scoring.history import History
from engine.scoring.shrinkage import (
    MAX_STRENGTH,
    beta_prior_strength,
    normal_prior_strength,
    shrink,
)
from engine.scoring.synthetic import SyntheticHistory
from tests.conftest import officer_row


def test_shrink_is_the_beta_binomial_posterior_mean() -> None:
    """(s + k m) / (n + k): 3 of 5 with a prior 0.1 worth 20 trials gives 5/25."""
    assert shrink(np.array(3.0), np.array(5.0), 0.1, 20.0) == pytest.approx(5 / 25)
    assert shrink(np.array(0.0), np.array(0.0), 0.37, 20.0) == pytest.approx(0.37)


def test_beta_prior_strength_pools_groups_that_only_differ_by_noise() -> None:
    """Groups drawn from one rate get the largest strength (complete pooling)."""
    n = np.full(50, 100.0)
    s = np.full(50, 10.0)  # every group exactly at the mean: no spread at all
    assert beta_prior_strength(s, n, 0.1) == MAX_STRENGTH


def test_beta_prior_strength_recovers_a_known_spread() -> None:
    """Rates drawn from Beta(m k, (1 - m) k) with k = 50 give a strength near 50."""
    rng = np.random.default_rng(3)
    rates = rng.beta(0.2 * 50, 0.8 * 50, 4000)
    n = np.full(rates.size, 400.0)
    s = rng.binomial(400, rates).astype(float)
    assert beta_prior_strength(s, n, 0.2) == pytest.approx(50, rel=0.15)


def test_normal_prior_strength_is_within_over_between_variance() -> None:
    """Group means spread with variance 0.25 around 0, values with variance 1 within:
    k = 1 / 0.25 = 4."""
    rng = np.random.default_rng(4)
    groups, size = 3000, 40
    means = rng.normal(0, 0.5, groups)
    x = means[:, None] + rng.normal(0, 1.0, (groups, size))
    k = normal_prior_strength(x.sum(1), (x * x).sum(1), np.full(groups, float(size)), 0.0)
    assert k == pytest.approx(4.0, rel=0.15)


def _team_counts(extra_n: int) -> RateCounts:
    """Four team-0 officers with known rates and 400 records each, plus officer 4 (team 0)
    with ``extra_n`` records at a 40% rate; officers 5-6 in team 1."""
    rng = np.random.default_rng(8)
    officers, ys = [], []
    for o, rate in enumerate((0.05, 0.1, 0.15, 0.2)):
        officers += [o] * 400
        ys += list(rng.random(400) < rate)
    funded = round(0.4 * extra_n)
    officers += [4] * extra_n
    ys += [1] * funded + [0] * (extra_n - funded)
    for o in (5, 6):
        officers += [o] * 400
        ys += list(rng.random(400) < 0.3)
    idx = np.array(officers, dtype=np.int64)
    team_of = np.array([0, 0, 0, 0, 0, 1, 1], dtype=np.int64)
    return RateCounts.fit(idx, np.zeros(idx.size, dtype=np.int64), np.array(ys, dtype=float),
                          7, 1, team_of, 2)


def _rate(counts: RateCounts, officer: int, team: int) -> float:
    team_of = np.array([0, 0, 0, 0, 0, 1, 1], dtype=np.int64)
    return float(counts.rates(np.array([officer]), np.array([team]), team_of, 2)[0, 0])


def test_rate_of_officer_without_records_equals_team_prior() -> None:
    """Cold start: an officer with no records gets exactly the team's shrunk rate."""
    counts = _team_counts(0)
    team_of = np.array([0, 0, 0, 0, 0, 1, 1])
    team_n = np.array([counts.trials[team_of == t].sum() for t in (0, 1)])
    team_s = np.array([counts.successes[team_of == t].sum() for t in (0, 1)])
    pop = shrink(counts.successes.sum(), counts.trials.sum(), counts.global_rate,
                 counts.k_population)
    team_prior = shrink(team_s, team_n, pop, counts.k_team)
    assert _rate(counts, 4, 0) == pytest.approx(float(team_prior[0]))
    assert _rate(counts, -1, 1) == pytest.approx(float(team_prior[1]))  # new officer, team 1
    assert _rate(counts, -1, -1) == pytest.approx(float(pop))  # new officer, new team


def test_rate_moves_toward_own_record_as_it_grows() -> None:
    """With n records at 40%, the officer's rate rises from the team prior toward 40% as n
    grows, and gets within 3 points of it at n = 2000."""
    rates = [_rate(_team_counts(n), 4, 0) for n in (0, 10, 50, 200, 2000)]
    assert all(a < b for a, b in itertools.pairwise(rates))
    assert rates[0] < 0.2
    assert abs(rates[-1] - 0.4) < 0.03


def test_bind_gives_new_officers_their_team_prior(small_history: History,
                                                  small_world: SyntheticHistory) -> None:
    """Laid over a roster with a newcomer, the newcomer's rates equal the team prior and an
    officer in a brand-new team gets the population rate."""
    roster = small_history.roster
    block_stats = _stats(small_history)
    newcomer = parse_officer(officer_row("NEW1", team="team-1"), "test")
    stranger = parse_officer(officer_row("NEW2", team="team-99"), "test")
    bigger = Roster([*roster.officers, newcomer, stranger])
    tables = block_stats.bind(bigger)
    counts = block_stats.rate_program
    teams = sorted(set(block_stats.officer_teams))
    team_of = np.array([teams.index(t) for t in block_stats.officer_teams])
    prior = counts.rates(np.array([-1]), np.array([teams.index("team-1")]), team_of,
                         len(teams))[0]
    pop = counts.rates(np.array([-1]), np.array([-1]), team_of, len(teams))[0]
    np.testing.assert_allclose(tables.rate_program[len(roster)], prior)
    np.testing.assert_allclose(tables.rate_program[len(roster) + 1], pop)
    # an officer who has records is not at the prior
    assert not np.allclose(tables.rate_program[0], prior)


def _stats(history: History) -> HistoryStats:
    from engine.scoring.features import LeadBlock, Vocabulary, officer_local_hours

    vocab = Vocabulary.fit(history.leads)
    block = LeadBlock.build(history.leads, vocab)
    hours = officer_local_hours(history.assigned_s, history.officer_idx, history.roster)
    return HistoryStats.fit(history.roster, history.officer_idx, history.y, block,
                            np.arange(len(history)), hours, history.delay_s,
                            history.open_leads, len(vocab.sources),
                            history.outcomes["contacted"].astype(bool))
