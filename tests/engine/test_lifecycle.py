"""The lead's life after its first decision: every transition, its effects, and the invariants
of random event sequences."""

from __future__ import annotations

import types
from datetime import UTC, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine.lifecycle import (
    Apply,
    Case,
    Freed,
    GiveUp,
    Kind,
    Lifecycle,
    Notify,
    OpenOffer,
    Record,
    Release,
    Reserve,
    Stage,
    Step,
    TakeBack,
    Unreserve,
    Wake,
    Withdraw,
    _decided,
    apply_effects,
)
from engine.state import RotationStep, RoutingState, StateDelta
from engine.store import MemoryStore
from tests.conftest import TUESDAY_15_UTC, make_lead, make_policy, make_roster

NOW = TUESDAY_15_UTC


def life(roster, routing="{method: round_robin}", **kw) -> Lifecycle:
    return Lifecycle.for_policy(roster, make_policy(routing=routing, **kw))


def kinds(step: Step) -> list[tuple[str, str | None]]:
    return [(e.kind.value, e.officer_id) for e in step.effects if isinstance(e, Record)]


def of(step: Step, kind: type) -> list:
    return [e for e in step.effects if isinstance(e, kind)]


def run(lc: Lifecycle, state: RoutingState, step: Step) -> Case:
    apply_effects(state, step.effects)
    return step.case


def test_assignment_is_counted_notified_and_due_at_its_deadline():
    """An assignment applies its delta (counted against caps), tells the officer with the
    accept-by time, and wakes at that deadline; acceptance makes the lead theirs."""
    roster = make_roster(("A", {"max_open": 1}))
    lc = life(roster, "{method: round_robin, offer: {mode: assign, accept_within_s: 300}}")
    state = RoutingState.empty(roster.ids_tuple)
    lead = make_lead()
    step = lc.arrive(lead, state, NOW)
    assert kinds(step) == [("arrived", None), ("assigned", "A")]
    assert of(step, Notify) == [Notify("A", NOW + timedelta(seconds=300), "assign")]
    assert of(step, Wake) == [Wake(NOW + timedelta(seconds=300))]
    case = run(lc, state, step)
    assert case.stage is Stage.OFFERED and case.officer_id == "A" and state.open_leads[0] == 1
    accepted = lc.accept(case, lead, "A", state, NOW + timedelta(seconds=60))
    assert accepted.ok and accepted.case.stage is Stage.ACCEPTED
    assert not of(accepted, Apply)  # already counted at the assignment
    closed = lc.release(accepted.case, "funded", state, NOW + timedelta(days=30))
    # A was at the cap on open leads: the held queue is told a slot freed
    assert of(closed, Release) == [Release("A")] and of(closed, Freed) == [Freed("A")]
    assert closed.case.stage is Stage.CLOSED and closed.case.done


def test_sla_timeout_takes_the_assignment_back_and_prefers_the_backup():
    """Not accepted by the deadline: an SLA breach charged to the officer, the assignment
    taken back (no longer open, no longer counted), and the lead re-routed with that officer
    excluded and their backup first."""
    roster = make_roster(("A", {"backup_officer_id": "C"}), "B", "C")
    lc = Lifecycle.for_policy(roster, make_policy(
        routing="{method: round_robin, offer: {accept_within_s: 300}}",
        pools="a: {ids: [A]}\nmain: {everyone: true}", tail="else: {pool: a, fallback: [main]}"))
    state = RoutingState.empty(roster.ids_tuple)
    lead = make_lead()
    first = lc.arrive(lead, state, NOW)
    assert first.case.officer_id == "A"
    case = run(lc, state, first)
    late = NOW + timedelta(seconds=300)
    step = lc.due(case, lead, state, late)
    assert ("sla_breach", "A") in kinds(step)
    assert of(step, TakeBack) and of(step, Withdraw)[0].officer_id == "A"
    assert step.case.officer_id == "C" and step.case.exclude == {"A":
                                                               "did not accept within the SLA"}
    apply_effects(state, step.effects)
    assert state.open_leads[roster.index["A"]] == 0 and state.day_count[roster.index["A"]] == 0


def test_a_timed_out_assignment_can_stay_counted():
    """Under timed_out: keep_counted the officer's lead is released but still counts against
    their daily cap."""
    roster = make_roster("A", "B")
    lc = life(roster, "{method: round_robin, lifecycle: {timed_out: keep_counted}}")
    state = RoutingState.empty(roster.ids_tuple)
    lead = make_lead()
    case = run(lc, state, lc.arrive(lead, state, NOW))
    o = roster.index[case.officer_id]
    step = lc.due(case, lead, state, NOW + timedelta(seconds=900))
    assert of(step, Release) == [Release(case.officer_id)] and not of(step, TakeBack)
    apply_effects(state, step.effects)
    assert state.day_count[o] == 1 and state.open_leads[o] == 0


def test_a_decline_moves_the_lead_on_at_once():
    """A declined assignment is taken back and re-routed now, not at the deadline."""
    roster = make_roster("A", "B")
    lc = life(roster)
    state = RoutingState.empty(roster.ids_tuple)
    lead = make_lead()
    case = run(lc, state, lc.arrive(lead, state, NOW))
    first = case.officer_id
    step = lc.decline(case, lead, first, state, NOW + timedelta(seconds=5))
    assert ("declined", first) in kinds(step) and of(step, TakeBack)
    assert step.case.officer_id not in (None, first)


def test_broadcast_first_to_accept_wins_and_the_others_are_withdrawn():
    """A broadcast tells every officer; the first acceptance takes the lead (counted then),
    the others are withdrawn, and a second acceptance does not apply."""
    roster = make_roster("A", "B", "C")
    lc = life(roster, "{method: round_robin, offer: {mode: broadcast, max_officers: 3}}")
    state = RoutingState.empty(roster.ids_tuple)
    lead = make_lead()
    step = lc.arrive(lead, state, NOW)
    assert sorted(n.officer_id for n in of(step, Notify)) == ["A", "B", "C"]
    case = run(lc, state, step)
    assert state.open_leads.sum() == 0  # nothing counted until someone accepts
    won = lc.accept(case, lead, "B", state, NOW + timedelta(seconds=30))
    assert ("accepted", "B") in kinds(won)
    assert sorted(w.officer_id for w in of(won, Withdraw)) == ["A", "C"]
    case = run(lc, state, won)
    assert state.open_leads[roster.index["B"]] == 1
    late = lc.accept(case, lead, "A", state, NOW + timedelta(seconds=31))
    assert not late.ok and not late.effects and "not offered" in late.note


def test_a_claim_over_a_cap_is_refused_and_the_lead_moves_on_when_all_are_refused():
    """An officer who accepts after reaching a cap is refused (claim_refused); when every
    officer told has been refused, the lead is re-routed at once, without an SLA breach.
    (Offers that hold no slot: with slots held, A and B would not have been offered it.)"""
    roster = make_roster(("A", {"daily_cap": 1}), ("B", {"daily_cap": 1}), "C")
    policy = "{method: round_robin, offer: {mode: broadcast, max_officers: 2}, " \
             "lifecycle: {offers_hold_slots: false}}"
    lc = Lifecycle.for_policy(roster, make_policy(
        routing=policy, pools="ab: {ids: [A, B]}\nmain: {everyone: true}",
        tail="else: {pool: ab, fallback: [main]}"))
    state = RoutingState.empty(roster.ids_tuple)
    for k in range(2):  # A and B each take a lead
        lead = make_lead(f"X{k}")
        case = run(lc, state, lc.arrive(lead, state, NOW))
        run(lc, state, lc.accept(case, lead, case.offer.officer_ids[0], state, NOW))
    lead = make_lead("L")
    # offered to A and B while nothing else is known: build the offer on a state before
    fresh = RoutingState.empty(roster.ids_tuple)
    case = lc.arrive(lead, fresh, NOW).case
    refused = lc.accept(case, lead, "A", state, NOW + timedelta(seconds=10))
    assert ("claim_refused", "A") in kinds(refused) and refused.case.stage is Stage.OFFERED
    again = lc.accept(refused.case, lead, "B", state, NOW + timedelta(seconds=20))
    assert ("claim_refused", "B") in kinds(again)
    assert ("sla_breach", None) not in [(k, None) for k, _ in kinds(again)]
    assert again.case.officer_id == "C"  # re-routed at once, A and B excluded


def test_cascade_steps_to_the_next_officer_and_the_lapsed_one_cannot_accept():
    """A cascade tells one officer at a time: at each step the current offer lapses and the
    next officer is told; the lapsed officer's acceptance does not apply."""
    roster = make_roster("A", "B", "C")
    lc = life(roster, "{method: round_robin, offer: {mode: cascade, max_officers: 3, "
                      "step_s: 60, accept_within_s: 600}}")
    state = RoutingState.empty(roster.ids_tuple)
    lead = make_lead()
    step = lc.arrive(lead, state, NOW)
    first = of(step, Notify)[0].officer_id
    case = run(lc, state, step)
    assert case.due_at == NOW + timedelta(seconds=60)
    step = lc.due(case, lead, state, NOW + timedelta(seconds=60))
    assert ("lapsed", first) in kinds(step)
    second = of(step, Notify)[0].officer_id
    assert second != first
    case = run(lc, state, step)
    assert not lc.accept(case, lead, first, state, NOW + timedelta(seconds=61)).ok
    assert lc.accept(case, lead, second, state, NOW + timedelta(seconds=61)).ok


def test_escalation_keeps_earlier_offers_open():
    """An escalation tells the next officer every step; those told before may still accept."""
    roster = make_roster("A", "B")
    lc = life(roster, "{method: round_robin, offer: {mode: escalate, max_officers: 2, "
                      "step_s: 60, accept_within_s: 600}}")
    state = RoutingState.empty(roster.ids_tuple)
    lead = make_lead()
    step = lc.arrive(lead, state, NOW)
    first = of(step, Notify)[0].officer_id
    case = run(lc, state, lc.due(run(lc, state, step), lead, state,
                                 NOW + timedelta(seconds=60)))
    assert len(case.offer.live()) == 2
    assert lc.accept(case, lead, first, state, NOW + timedelta(seconds=90)).ok


def test_the_cascades_last_step_unanswered_is_a_breach():
    """When the last officer's step ends unanswered the lead is re-routed as an SLA breach."""
    roster = make_roster("A", "B", "C")
    lc = life(roster, "{method: round_robin, offer: {mode: cascade, max_officers: 2, "
                      "step_s: 60, accept_within_s: 600}}")
    state = RoutingState.empty(roster.ids_tuple)
    lead = make_lead()
    case = run(lc, state, lc.arrive(lead, state, NOW))
    case = run(lc, state, lc.due(case, lead, state, NOW + timedelta(seconds=60)))
    step = lc.due(case, lead, state, NOW + timedelta(seconds=120))
    assert any(k == "sla_breach" for k, _ in kinds(step))
    assert step.case.stage is Stage.OFFERED and len(step.case.exclude) == 2


def test_offers_spread_over_the_rotation():
    """Two leads offered at the same moment (nobody has accepted yet) go to different
    officers: each officer told takes a turn in the rotation."""
    roster = make_roster("A", "B", "C", "D")
    lc = life(roster, "{method: round_robin, offer: {mode: broadcast, max_officers: 2}, "
                      "lifecycle: {offers_hold_slots: false}}")
    state = RoutingState.empty(roster.ids_tuple)
    one = run(lc, state, lc.arrive(make_lead("L1"), state, NOW))
    two = run(lc, state, lc.arrive(make_lead("L2"), state, NOW))
    assert set(one.offer.officer_ids).isdisjoint(two.offer.officer_ids)


def test_offers_can_hold_a_slot_until_claimed():
    """With offers_hold_slots, an open offer counts against each officer's caps: an officer
    with a cap of one open lead is not offered a second lead while the first offer is open;
    the claim turns the hold into the assignment and frees the others' holds."""
    roster = make_roster(("A", {"max_open": 1}), ("B", {"max_open": 1}), "C")
    lc = life(roster, "{method: round_robin, offer: {mode: broadcast, max_officers: 2}, "
                      "lifecycle: {offers_hold_slots: true}}")
    state = RoutingState.empty(roster.ids_tuple)
    lead = make_lead("L1")
    step = lc.arrive(lead, state, NOW)
    held = sorted(r.officer_id for r in of(step, Reserve))
    case = run(lc, state, step)
    assert len(held) == 2 and state.reserved.sum() == 2
    second = lc.arrive(make_lead("L2"), state, NOW)
    capped = [o for o in held if roster.officers[roster.index[o]].caps.max_open == 1]
    assert not set(capped) & set(second.case.offer.officer_ids if second.case.offer else ())
    won = lc.accept(case, lead, held[0], state, NOW + timedelta(seconds=5))
    assert sorted(u.officer_id for u in of(won, Unreserve)) == held
    apply_effects(state, won.effects)
    assert state.reserved.sum() == 0 and state.open_leads[roster.index[held[0]]] == 1


def test_a_held_lead_waits_for_its_time_and_tries_again():
    """Held with a known time: wakes then; with none (a cap on open leads), every
    hold_retry_s; the retry routes it when someone is free."""
    roster = make_roster(("A", {"max_open": 0}))
    lc = life(roster, "{method: round_robin, lifecycle: {hold_retry_s: 600}}")
    state = RoutingState.empty(roster.ids_tuple)
    lead = make_lead()
    step = lc.arrive(lead, state, NOW)
    assert step.case.stage is Stage.HELD and kinds(step)[-1] == ("held", None)
    assert step.case.due_at == NOW + timedelta(seconds=600)
    again = lc.due(step.case, lead, state, NOW + timedelta(seconds=600))
    assert again.case.stage is Stage.HELD and ("held", None) not in kinds(again)  # no repeat


@pytest.mark.parametrize(("when_stale", "pool_line", "stage"), [
    ("give_up", "", Stage.GIVEN_UP),
    ("pool", ", stale_pool: nurture", Stage.OFFERED),
])
def test_a_stale_held_lead_leaves_the_competition(when_stale, pool_line, stage):
    """A held lead older than stale_after_s is given up with the reason, or sent to the
    nurture pool (whose officers are not in the main pool)."""
    roster = make_roster(("A", {"max_open": 0}), ("N", {"team": "nurture"}))
    lc = Lifecycle.for_policy(roster, make_policy(
        routing=f"{{method: round_robin, lifecycle: {{stale_after_s: 86400, "
                f"when_stale: {when_stale}{pool_line}}}}}",
        pools="main: {ids: [A]}\nnurture: {teams: [nurture]}"))
    state = RoutingState.empty(roster.ids_tuple)
    lead = make_lead()
    case = lc.arrive(lead, state, NOW).case
    step = lc.due(case, lead, state, NOW + timedelta(days=1, seconds=1))
    assert ("stale", None) in kinds(step) and step.case.stage is stage
    if stage is Stage.GIVEN_UP:
        assert "stale" in of(step, GiveUp)[0].reason
    else:
        assert step.case.officer_id == "N" and step.case.pool == "nurture"


def test_rounds_then_given_up_with_the_reason():
    """Everyone tried and nobody accepted: a new round after unassigned_retry_s, up to
    max_rounds; then the lead is given up with the reason."""
    roster = make_roster("A")
    lc = life(roster, "{method: round_robin, lifecycle: {max_rounds: 2, "
                      "unassigned_retry_s: 120}}")
    state = RoutingState.empty(roster.ids_tuple)
    lead = make_lead()
    t = NOW
    case = run(lc, state, lc.arrive(lead, state, t))
    t += timedelta(seconds=900)
    case = run(lc, state, lc.due(case, lead, state, t))  # timed out: nobody else
    assert case.stage is Stage.WAITING and case.due_at == t + timedelta(seconds=120)
    t = case.due_at
    step = lc.due(case, lead, state, t)
    assert ("new_round", None) in kinds(step) and step.case.officer_id == "A"
    case = run(lc, state, step)
    t += timedelta(seconds=900)
    step = lc.due(case, lead, state, t)
    assert step.case.stage is Stage.GIVEN_UP and "2 round" in of(step, GiveUp)[0].reason


def test_nobody_licensed_is_given_up_at_once():
    """No officer licensed in the state: given up now, with the reason."""
    roster = make_roster(("A", {"licensed_states": "CA"}))
    step = life(roster).arrive(make_lead(), RoutingState.empty(roster.ids_tuple), NOW)
    assert step.case.stage is Stage.GIVEN_UP and "not licensed" in step.case.reason


def test_an_officer_going_away_mid_offer_moves_it_on():
    """An officer who goes away while a lead is theirs to accept: the offer moves on."""
    roster = make_roster("A", "B")
    lc = life(roster)
    state = RoutingState.empty(roster.ids_tuple)
    lead = make_lead()
    case = run(lc, state, lc.arrive(lead, state, NOW))
    step = lc.officer_away(case, lead, case.officer_id, state, NOW + timedelta(seconds=30))
    assert step.case.officer_id not in (None, case.officer_id)


@pytest.mark.parametrize(("order", "first"), [("freshest_first", "L2"),
                                              ("oldest_first", "L1")])
def test_held_order_and_the_freed_slot(order, first):
    """Held leads are ordered by rule priority, then as the policy says; an officer whose
    slot frees gets the first lead they could take."""
    roster = make_roster(("A", {"max_open": 1}))
    lc = life(roster, f"{{method: round_robin, lifecycle: {{held_order: {order}}}}}")
    state = RoutingState.empty(roster.ids_tuple)
    state.open_leads[0] = 1
    items = []
    for k, at in enumerate((NOW, NOW + timedelta(minutes=5))):
        lead = make_lead(f"L{k + 1}", received_at=at.isoformat())
        items.append((lc.arrive(lead, state, at).case, lead))
    assert all(c.stage is Stage.HELD for c, _ in items)
    assert items[lc.held_order(items, state, NOW)[0]][0].lead_id == first
    assert lc.pick_held("A", items, state, NOW) is None  # still at the cap
    state.release("A")
    assert items[lc.pick_held("A", items, state, NOW)][0].lead_id == first
    # a caller keeping its queue in the held key's order: the first that fits
    ranked = sorted(items, key=lambda item: lc.held_key(item[0]))
    assert ranked[lc.pick_held("A", ranked, state, NOW, ordered=True)][0].lead_id == first


def test_highest_value_needs_a_method_that_scores():
    """held_order: highest_value is refused for a rotation (it has no estimates)."""
    from engine.rules import PolicyError

    with pytest.raises(PolicyError, match="highest_value"):
        make_policy(routing="{method: round_robin, lifecycle: {held_order: highest_value}}")


def test_a_case_round_trips_through_its_record():
    """A case with an open offer, exclusions and a counted delta survives to_record and
    from_record unchanged (the API keeps it in a database row), and is JSON-ready."""
    import json

    roster = make_roster("A", "B", "C")
    lc = life(roster, "{method: round_robin, offer: {mode: cascade, max_officers: 2, "
                      "step_s: 60}}")
    state = RoutingState.empty(roster.ids_tuple)
    lead = make_lead()
    case = run(lc, state, lc.arrive(lead, state, NOW))
    case = run(lc, state, lc.due(case, lead, state, NOW + timedelta(seconds=60)))
    case = run(lc, state, lc.accept(case, lead, case.offer.live()[0], state,
                                    NOW + timedelta(seconds=70)))
    for c in (case, lc.arrive(make_lead("L2"), state, NOW).case):
        record = json.loads(json.dumps(c.to_record()))
        assert Case.from_record(record) == c


def test_memory_store_applies_state_effects():
    """The in-memory store carries out state effects and ignores the others."""
    roster = make_roster("A")
    store = MemoryStore.empty(roster.ids_tuple)
    lc = life(roster)
    step = lc.arrive(make_lead(), store.load(roster.ids_tuple), NOW)
    store.apply(step.effects)
    assert store.load(roster.ids_tuple).open_leads[0] == 1


def test_apply_effects_carries_out_each_kind_as_the_state_method_and_skips_the_rest():
    """Each state effect (and an effect of a subclass of one) does what its RoutingState
    method does; the other kinds change nothing."""
    roster = make_roster("A", "B")
    delta = StateDelta("A", NOW, 10, 240, RotationStep("main", "B", 2.0, 3.0))

    class LateApply(Apply):
        pass

    cases = [
        ([Apply(delta)], lambda s: s.apply(delta)),
        ([LateApply(delta)], lambda s: s.apply(delta)),
        ([Apply(delta), TakeBack(delta)], lambda s: (s.apply(delta), s.take_back(delta))),
        ([Apply(delta), Release("A")], lambda s: (s.apply(delta), s.release("A"))),
        ([Reserve("B"), Reserve("B"), Unreserve("B")],
         lambda s: (s.reserve("B"), s.reserve("B"), s.unreserve("B"))),
        ([Record(Kind.ARRIVED, NOW), Notify("A", NOW, "assign"), Withdraw("A", "x"),
          Wake(NOW), GiveUp("x"), Freed("A")], lambda s: None),
    ]
    for effects, by_hand in cases:
        got, want = RoutingState.empty(roster.ids_tuple), RoutingState.empty(roster.ids_tuple)
        apply_effects(got, effects)
        by_hand(want)
        for name in ("open_leads", "day_key", "day_count", "hour_key", "hour_count",
                     "last_assigned_s", "reserved"):
            assert getattr(got, name).tolist() == getattr(want, name).tolist(), (effects, name)
        assert got.reserved_total == want.reserved_total
        assert {k: (v.passes.tolist(), v.virtual_time) for k, v in got.rotations.items()} == \
            {k: (v.passes.tolist(), v.virtual_time) for k, v in want.rotations.items()}


_TEXT = st.text(max_size=4)
_WHEN = st.datetimes(timezones=st.just(UTC))
CASES = st.builds(
    Case, _TEXT, _WHEN, st.sampled_from(list(Stage)), _TEXT, st.integers(1, 5),
    st.lists(st.tuples(_TEXT, _TEXT), max_size=2).map(tuple), st.none() | _TEXT,
    st.none() | _TEXT, st.none() | st.builds(OpenOffer, _TEXT, st.tuples(_TEXT), _WHEN, _WHEN,
                                             _TEXT, st.floats(0, 9)),
    st.none() | _TEXT, st.none() | st.builds(StateDelta, _TEXT), st.none() | _WHEN,
    st.none() | _WHEN, _TEXT, st.floats(0, 1), st.integers(0, 9), _TEXT)


@settings(max_examples=200, deadline=None)
@given(case=CASES, version=_TEXT, propensity=st.floats(0, 1), priority=_TEXT, reason=_TEXT,
       due=st.none() | _WHEN, since=st.none() | _WHEN, give=st.sampled_from(
           [(), ("due_at",), ("held_since",), ("due_at", "held_since")]))
def test_decided_is_the_case_replaced_with_the_decision_and_changes(
        case, version, propensity, priority, reason, due, since, give):
    """_decided (the case after a decision, built field by field) is the case's _replace
    with the decision's keys, one decision more and the changes given."""
    d = types.SimpleNamespace(policy_version=version, propensity=propensity,
                              priority=priority, reason=reason)
    changes = {"stage": Stage.HELD, "offer": None, "officer_id": "A", "delta": None}
    if "due_at" in give:
        changes["due_at"] = due
    if "held_since" in give:
        changes["held_since"] = since
    want = case._replace(decisions=case.decisions + 1, policy_version=version,
                         propensity=propensity, priority=priority, reason=reason, **changes)
    got = _decided(case, d, **changes)
    assert type(got) is Case
    assert tuple(got) == tuple(want)


# ------------------------------------------------------------------- random event sequences

# acceptances twice as often as anything else, the capped officers (A, B, C) more often
EVENTS = st.lists(st.tuples(st.sampled_from(["accept", "accept", "decline", "due", "release",
                                             "away"]),
                            st.integers(0, 3), st.sampled_from([0, 0, 1, 1, 2, 2, 3, 4]),
                            st.integers(0, 300)),
                  min_size=1, max_size=60)
MODES = ["{mode: assign, accept_within_s: 600}",
         "{mode: broadcast, max_officers: 3, accept_within_s: 600}",
         "{mode: cascade, max_officers: 3, step_s: 120, accept_within_s: 600}",
         "{mode: escalate, max_officers: 3, step_s: 120, accept_within_s: 600}"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(events=[("accept", 0, 2, 1), ("accept", 1, 2, 1)], mode=MODES[1], hold=False,
         timed_out="take_back")  # C (one open lead at most) accepts two concurrent offers
@given(events=EVENTS, mode=st.sampled_from(MODES), hold=st.booleans(),
       timed_out=st.sampled_from(["take_back", "keep_counted"]))
def test_random_event_sequences_keep_the_invariants(events, mode, hold, timed_out):
    """Any sequence of acceptances, declines, due times, releases and officers going away,
    on four leads: at most one officer has a lead, no cap is ever exceeded, nothing stays
    held back by a reservation that no offer holds, and every lead is always accepted,
    closed, offered with a deadline, held or waiting with a time, or given up with a
    reason."""
    roster = make_roster(("A", {"max_open": 2, "daily_cap": 3}), ("B", {"hourly_cap": 2}),
                         ("C", {"max_open": 1}), "D", "E")
    lc = life(roster, f"{{method: round_robin, offer: {mode}, lifecycle: "
                      f"{{offers_hold_slots: {str(hold).lower()}, timed_out: {timed_out}, "
                      f"max_rounds: 2}}}}")
    state = RoutingState.empty(roster.ids_tuple)
    leads = [make_lead(f"L{k}") for k in range(4)]
    t = NOW
    cases = []
    for lead in leads:
        cases.append(run(lc, state, lc.arrive(lead, state, t)))
    ids = roster.ids_tuple
    counted: dict[str, str] = {}  # lead -> officer who has it counted (accepted)
    for what, k, o, dt in events:
        t += timedelta(seconds=dt)
        case, lead, oid = cases[k], leads[k], ids[o]
        if what == "accept":
            step = lc.accept(case, lead, oid, state, t)
        elif what == "decline":
            step = lc.decline(case, lead, oid, state, t)
        elif what == "away":
            step = lc.officer_away(case, lead, oid, state, t)
        elif what == "release":
            step = lc.release(case, "lost", state, t)
        else:
            if case.due_at is None or case.due_at > t:
                continue
            step = lc.due(case, lead, state, t)
        if not step.ok:
            assert not step.effects and step.case is case
            continue
        cases[k] = run(lc, state, step)
        new = cases[k]
        if new.stage is Stage.ACCEPTED:
            assert counted.get(new.lead_id) in (None, new.officer_id)
            counted[new.lead_id] = new.officer_id
        # caps: the state never goes past any cap (counting slots held by offers)
        _, day, hour = roster.local_clock(t)
        for i in range(len(roster)):
            assert state.open_leads[i] + state.reserved[i] <= roster.cap_open[i] or \
                state.open_leads[i] + state.reserved[i] == 0
            if state.day_key[i] == day[i]:
                assert state.day_count[i] <= roster.cap_daily[i]
            if state.hour_key[i] == hour[i]:
                assert state.hour_count[i] <= roster.cap_hourly[i]
        assert (state.reserved >= 0).all() and (state.open_leads >= 0).all()
        # open leads are exactly the leads each officer has (assigned or accepted)
        has = [c.officer_id for c in cases if c.officer_id is not None
               and c.stage in (Stage.OFFERED, Stage.ACCEPTED)]
        assert state.open_leads.tolist() == [has.count(oid) for oid in ids]
    for case in cases:
        if case.stage in (Stage.OFFERED, Stage.HELD, Stage.WAITING, Stage.NEW):
            assert case.due_at is not None
        elif case.stage is Stage.GIVEN_UP:
            assert case.reason
        else:
            assert case.stage in (Stage.ACCEPTED, Stage.CLOSED) and case.officer_id
    # reservations are exactly those of open offers
    held = sum(len(c.offer.reserved) for c in cases if c.offer is not None and
               c.stage is Stage.OFFERED)
    assert state.reserved.sum() == held
