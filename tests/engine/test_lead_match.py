"""A lead's facts and rule match are kept per lead for its later decisions
(``engine.decide.lead_match``): a kept match must give the decisions a fresh one gives, and a
new policy, roster or routing state between two decisions of the same lead must never be
served the earlier answer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engine import decide as decide_module
from engine.decide import Decision, decide, lead_match
from engine.roster import Roster
from engine.state import RoutingState
from tests.conftest import TUESDAY_15_UTC, make_lead, make_policy, make_roster

POOLS = "main: {everyone: true}\nva: {specialties: [va]}"
VA_FIRST = ("- name: va-loans\n  if: {field: loan_program, eq: va}\n"
            "  then: {pool: va, priority: high}")
VA_LAST = "- name: not-va\n  if: {field: loan_program, ne: va}\n  then: {pool: va}"


def _same(a: Decision, b: Decision) -> None:
    assert (a.status, a.reason, a.officer_id, a.offer, a.state_delta, a.propensity,
            a.priority, a.pool, a.hold_until, a.pool_weight) == \
        (b.status, b.reason, b.officer_id, b.offer, b.state_delta, b.propensity,
         b.priority, b.pool, b.hold_until, b.pool_weight)
    assert a.to_json() == b.to_json()
    assert a.to_json(detail="summary") == b.to_json(detail="summary")


def _fresh(*args: Any, **kwargs: Any) -> Decision:
    """The decision with nothing kept from earlier decisions."""
    decide_module._MATCHES.clear()
    return decide(*args, **kwargs)


@pytest.fixture
def roster() -> Roster:
    return make_roster(("V", {"specialties": "va"}), "G", "H")


def test_a_new_policy_between_two_decisions_of_a_lead_is_matched_afresh(roster: Roster) -> None:
    """The same lead object decided under one policy, then under another whose rules send it
    elsewhere: the second decision is the one a fresh match gives, not the first policy's."""
    lead = make_lead(loan_program="va")
    first, second = make_policy(VA_FIRST, POOLS), make_policy(VA_LAST, POOLS)
    state = RoutingState.empty(roster.ids_tuple)
    a = decide(lead, roster, first, state, TUESDAY_15_UTC)
    b = decide(lead, roster, second, state, TUESDAY_15_UTC)
    assert a.pool == "va" and a.priority == "high" and a.officer_id == "V"
    assert b.pool == "main" and b.priority == "normal"
    _same(b, _fresh(lead, roster, second, state, TUESDAY_15_UTC))
    # and back: the first policy's match again, not the second's kept one
    _same(decide(lead, roster, first, state, TUESDAY_15_UTC), a)


def test_a_new_roster_or_state_between_two_decisions_of_a_lead(roster: Roster) -> None:
    """The kept match holds only what depends on the lead and the policy: a changed roster,
    routing state, exclusions or time still change the decision as a fresh one would."""
    lead = make_lead(loan_program="va")
    policy = make_policy(VA_FIRST.replace("high}", "high, fallback: [main]}"), POOLS)
    state = RoutingState.empty(roster.ids_tuple)
    a = decide(lead, roster, policy, state, TUESDAY_15_UTC)
    assert a.officer_id == "V"
    other = make_roster(("W", {"specialties": "va"}), ("V", {"licensed_states": "CA",
                                                             "specialties": "va"}), "G")
    b = decide(lead, other, policy, RoutingState.empty(other.ids_tuple), TUESDAY_15_UTC)
    assert b.officer_id == "W"
    _same(b, _fresh(lead, other, policy, RoutingState.empty(other.ids_tuple), TUESDAY_15_UTC))
    later = TUESDAY_15_UTC + timedelta(hours=3)
    for kwargs in ({"exclude": {"V": "timed out"}}, {"prefer": "H"}, {"pool": "main"}, {}):
        state.apply(a.state_delta)
        kept = decide(lead, roster, policy, state, later, **kwargs)
        _same(kept, _fresh(lead, roster, policy, state, later, **kwargs))


def test_notes_and_rule_path_are_each_decisions_own(roster: Roster) -> None:
    """A decision's notes and rule path are its own lists: one decision's notes (a preferred
    officer taken first, a pool routed to) do not show up in the next decision of the lead."""
    lead = make_lead(loan_program="va")
    policy = make_policy(VA_FIRST, POOLS)
    state = RoutingState.empty(roster.ids_tuple)
    a = decide(lead, roster, policy, state, TUESDAY_15_UTC, pool="main")
    b = decide(lead, roster, policy, state, TUESDAY_15_UTC)
    assert any("routed to pool main" in n for n in a.explanation.notes)
    assert b.explanation.notes == []
    assert a.explanation.rule_path is not b.explanation.rule_path
    _same(b, _fresh(lead, roster, policy, state, TUESDAY_15_UTC))


def test_an_equal_lead_rebuilt_is_matched_afresh_and_the_map_is_bounded(roster: Roster) -> None:
    """Entries are found by the lead object: a rebuilt lead with other values never gets the
    earlier lead's match; the map never holds more than its bound."""
    policy = make_policy(VA_FIRST, POOLS)
    state = RoutingState.empty(roster.ids_tuple)
    va = decide(make_lead(loan_program="va"), roster, policy, state, TUESDAY_15_UTC)
    conv = decide(make_lead(loan_program="conventional"), roster, policy, state, TUESDAY_15_UTC)
    assert va.pool == "va" and conv.pool == "main"
    leads = [make_lead(f"L{i}") for i in range(decide_module.MATCH_CACHE_SIZE + 10)]
    for lead in leads:
        lead_match(lead, policy)
    assert len(decide_module._MATCHES) <= decide_module.MATCH_CACHE_SIZE


def test_leads_with_the_same_facts_share_a_match_that_a_fresh_one_equals() -> None:
    """The match is kept by the values of the facts the policy reads: leads with equal facts
    share it, leads that differ in one fact are matched by their own facts, and every kept
    match is what ``Policy.match`` gives afresh. A policy built at the address of a freed one
    never finds the first one's matches."""
    rules = (VA_FIRST + "\n- name: big\n  if: {field: loan_amount, between: [500000, 900000]}\n"
             "  then: {pool: main, priority: high}")
    policy = make_policy(rules, POOLS)
    leads = [make_lead(f"L{k}", loan_program=program, loan_amount=amount)
             for k, (program, amount) in enumerate(
                 [("va", "100000"), ("conventional", "600000"), ("va", "100000"),
                  ("conventional", "600000.0"), ("conventional", "499999"),
                  ("conventional", "900000"), ("fha", "950000")])]
    decide_module._BY_FACTS.clear()
    kept = [lead_match(lead, policy) for lead in leads]
    for lead, (facts, _, action, path) in zip(leads, kept, strict=True):
        fresh_action, fresh_path = policy.match(facts)
        assert action is fresh_action and path == fresh_path, lead.lead_id
    assert kept[0][2] is kept[2][2] and kept[0][3][0] is kept[2][3][0]  # shared
    # other facts, the same path: the same entries, so the JSON cache keeps one per form
    assert all(a is b for a, b in zip(kept[4][3], kept[6][3], strict=True))
    assert [a.priority.value for _, _, a, _ in kept] == [
        "high", "high", "high", "high", "normal", "high", "normal"]
    # keyed by the policy too: a second policy of other rules gives its own answers
    other = make_policy(VA_LAST, POOLS)
    assert lead_match(leads[1], other)[2] is other.match(lead_match(leads[1], other)[0])[0]
    assert all(entry[0] is policy or entry[0] is other
               for entry in decide_module._BY_FACTS.values())


def test_a_changed_explanation_dict_leaves_other_leads_alone(roster: Roster) -> None:
    """The rule path's entries are shared by leads of the same facts; an explanation's dict
    (the API stores and changes it) holds copies, so changing one touches no other lead."""
    policy = make_policy(VA_FIRST, POOLS)
    state = RoutingState.empty(roster.ids_tuple)
    a = decide(make_lead("A", loan_program="va"), roster, policy, state, TUESDAY_15_UTC)
    b = decide(make_lead("B", loan_program="va"), roster, policy, state, TUESDAY_15_UTC)
    before = b.to_json()
    a.explanation.to_dict()["rule_path"][0]["rule"] = "changed"
    assert b.to_json() == before and b.explanation.to_dict()["rule_path"][0]["rule"] == "va-loans"


def test_the_json_cache_keeps_a_rule_path_per_form_not_per_lead(roster: Roster) -> None:
    """Leads of many different amounts under a policy that tests the amount: a route file's
    JSON cache holds one text per form of the rule path (two here), not one per lead."""
    rules = "- name: big\n  if: {field: loan_amount, gt: 500000}\n  then: {pool: main}"
    policy = make_policy(rules, POOLS)
    state = RoutingState.empty(roster.ids_tuple)
    cache: dict = {}
    for k in range(60):
        d = decide(make_lead(f"L{k}", loan_amount=str(400_000 + 5_000 * k)), roster, policy,
                   state, TUESDAY_15_UTC)
        assert "".join(d.json_parts(cache=cache)) == d.to_json()
    # each form found by its entries' identity and by its keys: four texts at most
    assert len([key for key in cache if isinstance(key, tuple) and key[0] == "path"]) <= 4
