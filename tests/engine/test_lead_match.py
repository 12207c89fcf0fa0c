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
