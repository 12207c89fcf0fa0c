"""The world's hidden truth: skill spread, specialists, language, departures, the oracle."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engine.domain import LoanProgram
from engine.state import RoutingState
from simulator.params import Departure
from simulator.runner import build_world
from simulator.scenario import load_scenario
from simulator.world import OracleScorer, World
from tests.simulator.conftest import SCENARIOS


@pytest.fixture(scope="module")
def reference_world() -> World:
    return build_world(load_scenario(SCENARIOS / "reference.yaml"))


def test_top_decile_converts_at_least_twice_the_bottom_decile(reference_world, small_inputs):
    """On the same lead (an English conventional purchase, no specialty), the top tenth of
    officers by true p(funded) averages at least 2x the bottom tenth."""
    lead = next(x for x in small_inputs.stream.leads if x.loan_program is LoanProgram.CONVENTIONAL
                and x.language == "en" and not x.is_jumbo and not x.first_time_buyer)
    v = np.sort(reference_world.value_matrix(reference_world.features([lead]))[0])
    k = len(v) // 10
    assert v[-k:].mean() / v[:k].mean() >= 2.0


def test_specialists_are_one_and_a_half_times_better_on_their_specialty(reference_world,
                                                                         small_inputs):
    """A VA specialist's application rate on a VA lead is 1.5x theirs on the same lead as a
    conventional loan; a non-specialist's is unchanged."""
    base = next(x for x in small_inputs.stream.leads if x.loan_program is LoanProgram.CONVENTIONAL
                and x.language == "en" and not x.is_jumbo and not x.first_time_buyer)
    va = replace(base, loan_program=LoanProgram.VA)
    app = reference_world.application_matrix(reference_world.features([base, va]))
    specialist = np.array(["va" in {s.value for s in o.specialties}
                           for o in reference_world.roster.officers])
    assert specialist.sum() == 8
    np.testing.assert_allclose(app[1, specialist] / app[0, specialist], 1.5)
    np.testing.assert_allclose(app[1, ~specialist] / app[0, ~specialist], 1.0)


def test_language_match_helps_and_mismatch_hurts(reference_world, small_inputs):
    """A Spanish-speaking borrower does better with an officer who speaks Spanish."""
    base = next(x for x in small_inputs.stream.leads if x.language == "en")
    es = replace(base, language="es")
    app = reference_world.application_matrix(reference_world.features([base, es]))
    speaks = reference_world.speaks("es")
    assert np.all(app[1, speaks] > app[0, speaks])
    assert np.all(app[1, ~speaks] < app[0, ~speaks])


def test_the_same_seed_gives_the_same_hidden_traits():
    """Traits are drawn from the world seed only: two builds agree."""
    sc = load_scenario(SCENARIOS / "reference.yaml")
    a, b = build_world(sc), build_world(sc)
    np.testing.assert_array_equal(a.traits.skill, b.traits.skill)
    np.testing.assert_array_equal(a.traits.median_response_s, b.traits.median_response_s)


def test_departures_by_skill_rank_become_time_off_from_the_leaving_moment():
    """A departure by skill rank picks the most skilled officers; each gets time off from the
    leaving moment on, which the engine treats like any time off."""
    sc = load_scenario(SCENARIOS / "attrition.yaml")
    world = build_world(sc)
    best = world.skill_order()[:2]
    left = {oid for oid, _ in world.departures}
    assert left == {world.roster.ids_tuple[i] for i in best}
    for oid, at in world.departures:
        away = world.roster.officers[world.roster.index[oid]].away
        assert away[-1].start == at and away[-1].covers(at + (at - sc.start))
    with pytest.raises(ValueError, match="not on the roster"):
        World.build(sc.world, list(world.roster.officers),
                    [Departure(sc.start, officer_id="NOBODY")])


def test_oracle_scores_are_probabilities_led_by_the_true_value(small_inputs):
    """The oracle scorer gives an (L, M) array in [0, 1]; with officers equally fast it would
    follow the value matrix, and it never exceeds it."""
    inp = small_inputs
    oracle = OracleScorer(inp.world, inp.stream.leads, inp.features, inp.value,
                          inp.stream.arrival_s, inp.clock)
    leads = list(inp.stream.leads[:20])
    now = leads[-1].received_at
    scores = oracle.score(leads, inp.world.roster, RoutingState.empty(
        inp.world.roster.ids_tuple), now)
    assert scores.shape == (20, len(inp.world.roster))
    assert np.all((scores >= 0) & (scores <= inp.value[:20] + 1e-12))


def test_oracle_matches_the_truth_computed_pair_by_pair(small_inputs):
    """The oracle's vectorized scores (one shared delay grid when no lead has waited, the
    general path otherwise, the one-lead path) equal the truth computed pair by pair with
    the scalar decay."""
    inp = small_inputs
    oracle = OracleScorer(inp.world, inp.stream.leads, inp.features, inp.value,
                          inp.stream.arrival_s, inp.clock)
    world, clock = inp.world, inp.clock
    response = world.params.response
    nodes, weights = np.polynomial.hermite.hermgauss(5)
    state = RoutingState.empty(world.roster.ids_tuple)
    state.open_leads[:] = np.arange(len(world.roster)) % 4
    rows = list(range(40, 46))
    leads = [inp.stream.leads[i] for i in rows]
    for t_s in (inp.stream.arrival_s[rows[0]], inp.stream.arrival_s[rows[-1]] + 600.0):
        now = clock.datetime_at(t_s)
        got = oracle.score(leads, world.roster, state, now)
        for r, i in enumerate(rows):
            alone = oracle.score([leads[r]], world.roster, state, now)  # the one-lead path
            np.testing.assert_allclose(alone[0], got[r], rtol=1e-12, atol=1e-15)
            waited = max(t_s - inp.stream.arrival_s[i], 0.0)
            for o in range(len(world.roster)):
                start = t_s + world.traits.latency_s[o]
                start += clock.wait_to_shift_s(o, start)
                median = world.traits.median_response_s[o] * \
                    response.hour_multipliers[clock.local_hour(o, start)] * \
                    (1.0 + response.load_slope * state.open_leads[o])
                q = 0.0
                for z, w in zip(nodes, weights, strict=True):
                    delay = waited + (start - t_s) + median * np.exp(
                        response.within_sigma * np.sqrt(2.0) * z)
                    p = world.decay.contact_probability(inp.features.contact_base[i], delay)
                    tied = world.decay.contact_probability(inp.features.contact_base[i],
                                                           delay + response.busy_mean_s)
                    q += w / np.sqrt(np.pi) * ((1 - response.busy_probability) * p
                                               + response.busy_probability * tied)
                assert got[r, o] == pytest.approx(inp.value[i, o] * q, rel=1e-9, abs=1e-15)


def test_oracle_keeps_the_arrivals_officer_table_bit_for_bit(small_inputs):
    """The officers' wait to start and median response the oracle computes for a run of
    the stream's arrival moments together are, bit for bit, those it computes for one
    moment alone; so are those of a moment that is no arrival."""
    inp = small_inputs

    def oracle() -> OracleScorer:
        return OracleScorer(inp.world, inp.stream.leads, inp.features, inp.value,
                            inp.stream.arrival_s, inp.clock)

    together, alone = oracle(), oracle()
    alone._arrivals = np.zeros(0)  # every moment computed when first asked for, one at a time
    together.AHEAD = 50  # several runs of arrivals in the small scenario
    moments = together._arrival_moments().tolist()
    assert len(moments) > 4 * together.AHEAD
    later = [moments[5] + 0.25, moments[-1] + 3600.0]
    for t_s in moments[3:] + later:
        for a, b in zip(together._officers_at(t_s), alone._officers_at(t_s), strict=True):
            assert a.shape == b.shape == (len(inp.world.roster),)
            assert a.tobytes() == b.tobytes()
    # the first arrival asked for brought the next AHEAD with it: asked for one by one,
    # they were found kept
    assert len(together._at) == len(moments) - 3 + len(later)
