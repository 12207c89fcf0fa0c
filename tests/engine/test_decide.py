"""The decision function: explanation, offers, backups, and state changes."""

from __future__ import annotations

import json

import pytest

from engine.decide import Status, claim_delta, decide
from engine.state import RoutingState
from tests.conftest import TUESDAY_15_UTC, make_lead, make_policy, make_roster


def test_explanation_names_rule_path_pool_candidates_exclusions_policy_and_propensity(
    default_policy,
):
    """An assignment explains the rule path, the pool, candidates in order, who was left out
    and why, the policy name and version, and the propensity."""
    roster = make_roster(
        ("V1", {"specialties": "va"}),
        ("V2", {"specialties": "va"}),
        ("CA", {"specialties": "va", "licensed_states": "CA"}),
        "G",
    )
    state = RoutingState.empty(roster.ids_tuple)
    d = decide(make_lead(loan_program="va"), roster, default_policy, state, TUESDAY_15_UTC)
    ex = d.explanation.to_dict()
    json.dumps(ex)  # JSON-ready
    assert d.status is Status.ASSIGNED and d.propensity == 1.0
    assert ex["policy"] == "default" and ex["version"] == "1"
    assert ex["method"] == "weighted_round_robin"
    assert ex["rule_path"] == [{"rule": "va-loans", "matched": True, "branch": "then"}]
    step = ex["steps"][0]
    assert step["pool"] == "va_specialists"
    assert sorted(step["candidates"]) == ["V1", "V2"] and step["candidates"][0] == d.officer_id
    assert step["excluded"] == {"not_licensed": ["CA"]}
    assert step["outside_pool"] == 1
    assert (d.policy, d.policy_version, d.priority) == ("default", "1", "high")


def test_rule_path_lists_every_rule_tried_before_the_match(default_policy):
    """Rules that did not match are listed, in order, before the one that did."""
    roster = make_roster(("J", {"specialties": "jumbo"}), "G")
    lead = make_lead(loan_amount="900000", property_value="1200000")  # Dallas limit 806,500
    d = decide(lead, roster, default_policy, RoutingState.empty(roster.ids_tuple), TUESDAY_15_UTC)
    assert [r["rule"] for r in d.explanation.to_dict()["rule_path"]] == [
        "va-loans",
        "reverse-mortgages",
        "jumbo-loans",
    ]
    assert d.officer_id == "J"


def test_broadcast_offers_the_top_officers_at_once():
    """A broadcast offer goes to the first max_officers in rank order; nobody is assigned yet
    and the state does not change until someone accepts."""
    policy = make_policy(
        routing="{method: round_robin, offer: {mode: broadcast, "
        "max_officers: 2, accept_within_s: 300}}"
    )
    roster = make_roster("A", "B", "C")
    state = RoutingState.empty(roster.ids_tuple)
    d = decide(make_lead(), roster, policy, state, TUESDAY_15_UTC)
    assert d.status is Status.OFFERED and d.officer_id is None
    assert d.offer is not None and len(d.offer.officer_ids) == 2
    assert d.offer.mode == "broadcast" and d.offer.accept_within_s == 300
    assert d.state_delta.is_empty
    winner = d.offer.officer_ids[1]
    delta = claim_delta(roster, policy, state, d.pool, winner, TUESDAY_15_UTC, d.pool_weight)
    state.apply(delta)
    assert state.open_leads[roster.index[winner]] == 1


def test_cascade_offer_carries_its_step():
    """A cascade lists officers in rank order with the seconds each has to accept."""
    policy = make_policy(
        routing="{method: round_robin, offer: {mode: cascade, max_officers: 3, step_s: 120}}"
    )
    roster = make_roster("A", "B", "C", "D")
    d = decide(make_lead(), roster, policy, RoutingState.empty(roster.ids_tuple), TUESDAY_15_UTC)
    assert d.offer is not None and d.offer.step_s == 120 and len(d.offer.officer_ids) == 3


def test_rule_can_override_the_offer_mode():
    """A rule's own offer replaces the routing default for the leads it matches."""
    policy = make_policy(
        rules="- name: hot\n  if: {field: source, eq: referral}\n"
        "  then: {pool: main, offer: {mode: broadcast, max_officers: 2}}"
    )
    roster = make_roster("A", "B", "C")
    state = RoutingState.empty(roster.ids_tuple)
    assert (
        decide(make_lead(source="referral"), roster, policy, state, TUESDAY_15_UTC).status
        is Status.OFFERED
    )
    assert decide(make_lead(), roster, policy, state, TUESDAY_15_UTC).status is Status.ASSIGNED


def test_prefer_takes_the_backup_officer_when_eligible():
    """Re-routing after a timeout prefers the backup officer if they are eligible."""
    roster = make_roster("A", "B", "C")
    state = RoutingState.empty(roster.ids_tuple)
    policy = make_policy()
    first = decide(make_lead(), roster, policy, state, TUESDAY_15_UTC).officer_id
    backup = next(o for o in ("A", "B", "C") if o != first)
    d = decide(
        make_lead(), roster, policy, state, TUESDAY_15_UTC, exclude={first: "sla"}, prefer=backup
    )
    assert d.officer_id == backup
    assert any("backup" in n for n in d.explanation.notes)
    # an ineligible backup is ignored
    d = decide(
        make_lead(),
        roster,
        policy,
        state,
        TUESDAY_15_UTC,
        exclude={first: "sla", backup: "sla"},
        prefer=backup,
    )
    assert d.officer_id not in (first, backup)


def test_delta_counts_against_the_officers_local_day_and_hour():
    """The delta records the officer-local day and hour the assignment counts against."""
    roster = make_roster(("A", {"timezone": "Asia/Tokyo", "licensed_states": "TX"}))
    d = decide(
        make_lead(), roster, make_policy(), RoutingState.empty(roster.ids_tuple), TUESDAY_15_UTC
    )
    # 15:00 UTC Mar 4 is 00:00 Mar 5 in Tokyo
    from datetime import date

    assert d.state_delta.day_key == date(2025, 3, 5).toordinal()
    assert d.state_delta.hour_key == date(2025, 3, 5).toordinal() * 24


def test_state_for_another_roster_keeps_known_officers_counters():
    """Re-laying the state for a changed roster keeps counters of officers still on it."""
    roster = make_roster("A", "B")
    state = RoutingState.empty(roster.ids_tuple)
    state.apply(decide(make_lead(), roster, make_policy(), state, TUESDAY_15_UTC).state_delta)
    who = "A" if state.open_leads[0] else "B"
    moved = state.for_officers(("C", who))
    assert moved.open_leads.tolist() == [0, 1]


def test_decide_accepts_a_plain_list_of_officers():
    """Callers may pass officers as a list; the result equals passing a Roster."""
    roster = make_roster("A", "B")
    state = RoutingState.empty(roster.ids_tuple)
    a = decide(make_lead(), list(roster.officers), make_policy(), state, TUESDAY_15_UTC)
    b = decide(make_lead(), roster, make_policy(), state, TUESDAY_15_UTC)
    assert a.officer_id == b.officer_id


def test_local_clock_follows_offset_changes_on_the_half_hour():
    """Newfoundland's clocks change at 05:30 UTC: local times on either side are right."""
    from datetime import UTC, datetime, timedelta

    from engine.domain import MINUTES_PER_WEEK

    roster = make_roster(("N", {"timezone": "America/St_Johns"}), ("C", {}))
    for moment in [
        datetime(2025, 3, 9, 5, 29, tzinfo=UTC),
        datetime(2025, 3, 9, 5, 31, tzinfo=UTC),
        datetime(2025, 11, 2, 4, 29, tzinfo=UTC),
        datetime(2025, 11, 2, 4, 31, tzinfo=UTC),
    ]:
        for t in (moment - timedelta(minutes=1), moment):
            minute, day, hour = roster.local_clock(t)
            for i, officer in enumerate(roster.officers):
                local = t.astimezone(roster.zones[i])
                assert day[i] == local.toordinal()
                assert hour[i] == local.toordinal() * 24 + local.hour
                want = (local.weekday() * 1440 + local.hour * 60 + local.minute) % MINUTES_PER_WEEK
                assert minute[i] == want, (officer.officer_id, t)


def test_take_back_undoes_the_counts_of_an_assignment_that_did_not_stand():
    """An assignment not accepted in time stops counting as open and against day and hour
    caps; the rotation keeps its advance."""
    roster = make_roster(("A", {"daily_cap": 1}), "B")
    state = RoutingState.empty(roster.ids_tuple)
    policy = make_policy(routing="{method: round_robin, seed: 3}")
    d = decide(make_lead(), roster, policy, state, TUESDAY_15_UTC)
    state.apply(d.state_delta)
    i = roster.index[d.officer_id]
    passes = state.rotation("main").passes.copy()
    state.take_back(d.state_delta)
    assert (state.open_leads[i], state.day_count[i], state.hour_count[i]) == (0, 0, 0)
    assert (state.rotation("main").passes == passes).all()
    assert d.pool_weight == 2.0


def test_uncount_lowers_only_counts_still_current_and_says_which():
    """An assignment un-counted in its own hour lowers both counts; one un-counted after its
    hour has passed (a later hour counted since) lowers the day's only; again, nothing."""
    from datetime import timedelta

    roster = make_roster("A")
    state = RoutingState.empty(roster.ids_tuple)
    policy = make_policy(routing="{method: round_robin, seed: 3}")
    first = decide(make_lead(), roster, policy, state, TUESDAY_15_UTC)
    state.apply(first.state_delta)
    assert state.uncount(first.state_delta) == (True, True)
    state.apply(first.state_delta)
    later = decide(make_lead(), roster, policy, state, TUESDAY_15_UTC + timedelta(hours=1))
    state.apply(later.state_delta)
    assert state.uncount(first.state_delta) == (True, False)
    assert (state.day_count[0], state.hour_count[0]) == (1, 1)
    state.take_back(later.state_delta)
    assert state.uncount(later.state_delta) == (False, False)


@pytest.mark.parametrize("moment", [
    "2025-03-09T08:00:00+00:00",  # US spring forward
    "2025-11-02T06:00:00+00:00",  # US fall back
    "2025-04-05T15:00:00+00:00",  # Lord Howe: clocks back 30 minutes
    "2025-09-27T14:00:00+00:00",  # Chatham (+12:45 -> +13:45)
    "2025-03-30T01:00:00+00:00",  # Europe
])
def test_local_clock_is_right_at_every_minute_around_a_change(moment):
    """The per-quarter-hour cache gives each zone's local minute, day and hour at every
    minute for three hours either side of an offset change, odd offsets included."""
    from datetime import datetime, timedelta

    from engine.domain import MINUTES_PER_WEEK

    zones = ["America/Chicago", "America/St_Johns", "Australia/Lord_Howe", "Pacific/Chatham",
             "Asia/Kathmandu", "Europe/Berlin"]
    roster = make_roster(*[(f"Z{k}", {"timezone": z}) for k, z in enumerate(zones)])
    center = datetime.fromisoformat(moment)
    for step in range(-180, 181):
        t = center + timedelta(minutes=step, seconds=17)
        minute, day, hour = roster.local_clock(t)
        for i in range(len(zones)):
            local = t.astimezone(roster.zones[i])
            assert day[i] == local.toordinal()
            assert hour[i] == local.toordinal() * 24 + local.hour
            assert minute[i] == (local.weekday() * 1440 + local.hour * 60
                                 + local.minute) % MINUTES_PER_WEEK, (zones[i], t)


def test_off_shift_follows_each_officers_local_hours():
    """Roster.off_shift (cached per quarter hour) agrees with the working hours read in each
    officer's own zone, minute by minute across two days and a US clock change."""
    from datetime import datetime, timedelta

    zones = ["America/Chicago", "America/St_Johns", "Asia/Kathmandu", "America/Los_Angeles"]
    roster = make_roster(*[(f"Z{k}", {"timezone": z, "work_hours": "Mon-Sat 01:30-02:45"})
                           for k, z in enumerate(zones)])
    start = datetime.fromisoformat("2025-03-08T00:00:00+00:00")
    for step in range(0, 2 * 1440, 3):
        t = start + timedelta(minutes=step, seconds=41)
        off = roster.off_shift(t)
        for i in range(len(zones)):
            local = t.astimezone(roster.zones[i])
            minutes = local.hour * 60 + local.minute
            working = local.weekday() < 6 and 90 <= minutes < 165
            assert off[i] == (not working), (zones[i], t, local)
