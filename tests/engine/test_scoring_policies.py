"""Scoring methods: greedy and dual price, with exploration and propensities."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from engine.decide import decide
from engine.state import RoutingState
from tests.conftest import TUESDAY_15_UTC, make_lead, make_policy, make_roster


class FixedScorer:
    """p(convert) by officer, the same for every lead."""

    def __init__(self, by_officer: dict[str, float]) -> None:
        self.by_officer = by_officer

    def score(self, leads, roster, state, now):
        row = np.array([self.by_officer.get(oid, 0.0) for oid in roster.ids_tuple])
        return np.tile(row, (len(leads), 1))


ROSTER = make_roster("A", "B", ("C", {"licensed_states": "CA"}), "D")
SCORER = FixedScorer({"A": 0.10, "B": 0.30, "C": 0.90, "D": 0.20})


def route(policy, lead=None, state=None, scorer=SCORER):
    state = state or RoutingState.empty(ROSTER.ids_tuple)
    return decide(lead or make_lead(), ROSTER, policy, state, TUESDAY_15_UTC, scorer=scorer)


def test_greedy_takes_the_best_eligible_officer():
    """Greedy picks the highest estimate among eligible officers (C is not licensed)."""
    d = route(make_policy(routing="{method: greedy}"))
    assert d.officer_id == "B" and d.propensity == 1.0
    step = d.explanation.to_dict()["steps"][0]
    assert step["candidates"] == ["B", "D", "A"]
    assert step["scores"] == [0.3, 0.2, 0.1]


def test_revenue_objective_weighs_by_loan_amount():
    """With objective revenue, scores are p x loan amount x margin rate (USD)."""
    d = route(make_policy(routing="{method: greedy, params: {objective: revenue, "
                                  "margin_rate: 0.01}}"), make_lead(loan_amount="200000"))
    assert d.explanation.to_dict()["steps"][0]["scores"][0] == pytest.approx(0.3 * 200000 * 0.01)


def test_epsilon_greedy_records_the_exact_propensity():
    """Epsilon-greedy: the best officer has propensity 1 - eps + eps/K, any other eps/K; the
    draw is fixed by the lead id and the moment, and exploration happens about eps of the
    time."""
    policy = make_policy(routing="{method: greedy, params: {epsilon: 0.3}}")
    picks = Counter()
    for k in range(600):
        d = route(policy, make_lead(f"L{k}"))
        again = route(policy, make_lead(f"L{k}"))
        assert (d.officer_id, d.propensity) == (again.officer_id, again.propensity)
        expected = 0.7 + 0.1 if d.officer_id == "B" else 0.1
        assert d.propensity == pytest.approx(expected)
        picks[d.officer_id] += 1
    assert 0.75 < picks["B"] / 600 < 0.85  # 0.8 expected


def test_a_lead_decided_again_later_draws_afresh():
    """The same lead decided at a later moment (after an SLA time-out) explores independently
    of its first decision, as the propensity of each decision says: over many leads, the
    best officer is picked both times about 0.8 x 0.8 of the time."""
    from datetime import timedelta

    policy = make_policy(routing="{method: greedy, params: {epsilon: 0.3}}")
    state = RoutingState.empty(ROSTER.ids_tuple)
    both = 0
    n = 800
    for k in range(n):
        lead = make_lead(f"L{k}")
        first = decide(lead, ROSTER, policy, state, TUESDAY_15_UTC, scorer=SCORER)
        later = decide(lead, ROSTER, policy, state, TUESDAY_15_UTC + timedelta(minutes=15),
                       scorer=SCORER)
        both += first.officer_id == "B" and later.officer_id == "B"
    assert 0.58 < both / n < 0.70  # 0.64 expected; 0.8 if the draw were the lead's alone


def test_softmax_propensity_is_the_probability_of_the_pick():
    """Softmax exploration records the softmax probability of the chosen officer."""
    policy = make_policy(routing="{method: greedy, params: {temperature: 0.1}}")
    z = np.exp(np.array([0.1, 0.3, 0.2]) / 0.1)
    prob = dict(zip(["A", "B", "D"], z / z.sum(), strict=True))
    for k in range(50):
        d = route(policy, make_lead(f"L{k}"))
        assert d.propensity == pytest.approx(prob[d.officer_id])


def test_dual_price_trades_value_against_capacity_price():
    """Dual price ranks by value minus price: a high price steers leads to the next best."""
    policy = make_policy(routing="{method: dual_price}")
    state = RoutingState.empty(ROSTER.ids_tuple)
    assert route(policy, state=state).officer_id == "B"  # prices start at zero: greedy
    state.set_prices(np.array([0.0, 0.25, 0.0, 0.0]), TUESDAY_15_UTC.timestamp())
    d = route(policy, state=state)
    assert d.officer_id == "D"  # 0.2 - 0 beats 0.3 - 0.25


def test_dual_price_offers_only_to_officers_the_lead_is_worth_the_slot_to():
    """A broadcast under dual price goes to the officers whose value covers their price: D
    (0.2 against 0.25) is left out and the explanation says why; at zero prices all three
    are offered; when nobody's value covers the price (no deferral) the best alone is."""
    policy = make_policy(routing="{method: dual_price, offer: {mode: broadcast, "
                                 "max_officers: 3, accept_within_s: 600}}")
    state = RoutingState.empty(ROSTER.ids_tuple)
    assert route(policy, state=state).offer.officer_ids == ("B", "D", "A")
    state.set_prices(np.array([0.0, 0.0, 0.0, 0.25]), TUESDAY_15_UTC.timestamp())
    d = route(policy, state=state)
    assert d.offer.officer_ids == ("B", "A")
    assert any("worth less than the capacity price" in n for n in d.explanation.notes)
    state.set_prices(np.array([0.5, 0.5, 0.5, 0.5]), TUESDAY_15_UTC.timestamp())
    assert route(policy, state=state).offer.officer_ids == ("B",)


def test_a_backup_taken_first_keeps_the_offer_to_those_worth_the_slot():
    """A timed-out officer's backup D goes first (whatever its price); after it the offer
    still runs over the officers the lead covers the price of (B, A), in rank order."""
    policy = make_policy(routing="{method: dual_price, offer: {mode: broadcast, "
                                 "max_officers: 3, accept_within_s: 600}}")
    state = RoutingState.empty(ROSTER.ids_tuple)
    state.set_prices(np.array([0.0, 0.0, 0.0, 0.25]), TUESDAY_15_UTC.timestamp())
    d = decide(make_lead(), ROSTER, policy, state, TUESDAY_15_UTC, prefer="D", scorer=SCORER)
    assert d.offer.officer_ids == ("D", "B", "A")
    state.set_prices(np.array([0.15, 0.0, 0.0, 0.25]), TUESDAY_15_UTC.timestamp())
    d = decide(make_lead(), ROSTER, policy, state, TUESDAY_15_UTC, prefer="D", scorer=SCORER)
    assert d.offer.officer_ids == ("D", "B")


def test_scoring_method_without_scorer_is_a_clear_error():
    """A scoring method with no scorer and no model file says what is missing."""
    with pytest.raises(ValueError, match="needs conversion estimates"):
        route(make_policy(routing="{method: greedy}"), scorer=None)


@pytest.mark.parametrize(("params", "message"), [
    ("{epsilon: 2}", "epsilon must be in"),
    ("{objective: profit}", "objective must be one of"),
    ("{temperature: 0}", "temperature must be > 0"),
    ("{bogus: 1}", "unknown params"),
])
def test_scoring_params_are_validated_at_load(params, message):
    """Bad routing.params fail when the policy loads, at routing.params."""
    from engine.rules import PolicyError

    with pytest.raises(PolicyError, match=message) as info:
        make_policy(routing=f"{{method: greedy, params: {params}}}")
    assert info.value.path == "routing.params"


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory):
    """A small conversion model saved with skops, and its roster."""
    from engine.scoring import save_model, train_model
    from engine.scoring.synthetic import make_synthetic_history

    synth = make_synthetic_history(np.random.default_rng(5), n_leads=3000, n_officers=12)
    roster = synth.roster()
    result = train_model(synth.history(roster), estimator="logistic", calibration="sigmoid",
                         rng=np.random.default_rng(6))
    path = tmp_path_factory.mktemp("model") / "model.skops"
    save_model(result.model, path)
    return path, roster


def test_policy_names_a_saved_model_and_greedy_routes_by_it(trained_model, tmp_path):
    """routing.params.model loads the saved model; greedy ranks by its probabilities."""
    from engine.rules import load_policy

    path, roster = trained_model
    policy_file = tmp_path / "greedy.yaml"
    policy_file.write_text(f"policy: g\nversion: 1\nrouting: {{method: greedy, params: "
                           f"{{model: {path}}}}}\npools: {{main: {{everyone: true}}}}\n"
                           "else: {pool: main}\n")
    policy = load_policy(policy_file)
    state = RoutingState.empty(roster.ids_tuple)
    lead = make_lead(zip="75201")
    d = decide(lead, roster, policy, state, TUESDAY_15_UTC)
    assert d.status.value == "assigned"
    scores = d.explanation.to_dict()["steps"][-1]["scores"]
    assert scores == sorted(scores, reverse=True) and 0 < scores[0] < 1
    assert len(set(scores)) > 1  # the model tells officers apart


def test_missing_model_file_fails_at_load(tmp_path):
    """A model file that is not there is a load error at routing.params.model."""
    from engine.rules import PolicyError, load_policy

    policy_file = tmp_path / "greedy.yaml"
    policy_file.write_text("policy: g\nversion: 1\nrouting: {method: greedy, params: "
                           "{model: nowhere.skops}}\npools: {main: {everyone: true}}\n"
                           "else: {pool: main}\n")
    with pytest.raises(PolicyError, match=r"nowhere\.skops") as info:
        load_policy(policy_file)
    assert info.value.path == "routing.params.model"


class LeadScorer:
    """p(convert) by (lead id, officer id)."""

    def __init__(self, table: dict[tuple[str, str], float]) -> None:
        self.table = table

    def score(self, leads, roster, state, now):
        return np.array([[self.table.get((lead.lead_id, oid), 0.0) for oid in roster.ids_tuple]
                         for lead in leads])


def test_batch_optimal_keeps_the_scarce_officer_for_the_lead_only_they_serve_well():
    """Two leads, officer S can take one: the batch gives S the lead whose alternative is
    worst, where greedy in arrival order would give S the first lead."""
    from engine.decide import decide_batch

    roster = make_roster(("S", {"hourly_cap": 1}), "G")
    scorer = LeadScorer({("L1", "S"): 0.5, ("L1", "G"): 0.45, ("L2", "S"): 0.4,
                         ("L2", "G"): 0.05})
    policy = make_policy(routing="{method: batch_optimal, params: {window_s: 60}}")
    state = RoutingState.empty(roster.ids_tuple)
    decisions = decide_batch([make_lead("L1"), make_lead("L2")], roster, policy, state,
                             TUESDAY_15_UTC, scorer=scorer)
    assert [d.officer_id for d in decisions] == ["G", "S"]  # 0.45 + 0.4 beats 0.5 + 0.05
    for d in decisions:
        state.apply(d.state_delta)
    assert state.hour_count.tolist() == [1, 1]
    greedy = make_policy(routing="{method: greedy}")
    fresh = RoutingState.empty(roster.ids_tuple)
    first = decide(make_lead("L1"), roster, greedy, fresh, TUESDAY_15_UTC, scorer=scorer)
    assert first.officer_id == "S"


def test_batch_optimal_holds_a_lead_when_capacity_goes_to_better_leads():
    """When every eligible officer's capacity is used by leads worth more, the lead is held."""
    from engine.decide import Status, decide_batch

    roster = make_roster(("S", {"hourly_cap": 1}))
    scorer = LeadScorer({("L1", "S"): 0.2, ("L2", "S"): 0.6})
    policy = make_policy(routing="{method: batch_optimal}")
    decisions = decide_batch([make_lead("L1"), make_lead("L2")], roster, policy,
                             RoutingState.empty(roster.ids_tuple), TUESDAY_15_UTC,
                             scorer=scorer)
    assert [d.status for d in decisions] == [Status.HELD, Status.ASSIGNED]
    assert "leads worth more" in decisions[0].reason


DEFER = make_policy(routing="{method: dual_price, params: {defer_below_price: true, "
                            "reprice_every_s: 1800}}")


def test_defer_below_price_holds_a_lead_worth_less_than_any_slot():
    """With defer_below_price, a lead worth less to every eligible officer than their
    capacity price is held until the next price refresh, with the reason and the ranking."""
    state = RoutingState.empty(ROSTER.ids_tuple)
    set_at = TUESDAY_15_UTC.timestamp() - 600
    state.set_prices(np.array([0.3, 0.4, 0.0, 0.25]), set_at)
    d = route(DEFER, state=state)
    assert d.status == "held" and d.officer_id is None
    assert "worth less than the capacity it would use" in d.reason
    assert d.hold_until is not None and d.hold_until.timestamp() == set_at + 1800
    assert d.state_delta.is_empty
    step = d.explanation.to_dict()["steps"][-1]
    assert step["candidates"] == ["D", "B", "A"]  # by value - price: -0.05, -0.1, -0.2
    # one officer with a positive reduced value: assigned to them
    state.set_prices(np.array([0.2, 0.25, 0.0, 0.3]), set_at)
    assert route(DEFER, state=state).officer_id == "B"


def test_defer_below_price_waits_for_the_first_prices():
    """Before the first refresh there are no prices: the method places leads as greedy, and
    without the option a lead is placed whatever the prices."""
    assert route(DEFER).officer_id == "B"
    state = RoutingState.empty(ROSTER.ids_tuple)
    state.set_prices(np.full(4, 0.9), TUESDAY_15_UTC.timestamp())
    assert route(make_policy(routing="{method: dual_price}"), state=state).officer_id == "B"


def test_defer_below_price_must_be_a_boolean():
    """A non-boolean defer_below_price fails at load, at routing.params."""
    from engine.rules import PolicyError

    with pytest.raises(PolicyError, match="defer_below_price must be true or false"):
        make_policy(routing="{method: dual_price, params: {defer_below_price: 'yes'}}")


def test_defer_below_price_never_holds_at_zero_prices():
    """A lead worth nothing to anyone is still placed while capacity is free (price zero):
    holding it would gain nothing."""
    state = RoutingState.empty(ROSTER.ids_tuple)
    state.set_prices(np.zeros(4), TUESDAY_15_UTC.timestamp())
    d = route(DEFER, state=state, scorer=FixedScorer({}))
    assert d.status == "assigned"
