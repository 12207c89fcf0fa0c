"""The SimPy mechanics: SLA re-routing with backups, broadcasts, cascades, holds, closing."""

from __future__ import annotations

import numpy as np
import pytest

from engine.decide import decide
from engine.state import RoutingState
from simulator.crn import replication_seeds
from tests.simulator.tiny import events, policy, run, tiny_inputs

ALWAYS = {"work_hours": ""}
PREFER_A = """pools:
  a: {ids: [A]}
  main: {everyone: true}
else: {pool: a, fallback: [main]}
"""


def test_sla_timeout_releases_the_officer_and_prefers_their_backup(tmp_path):
    """A does not answer within 300 s: the lead is re-routed with A excluded and A's backup
    B preferred over C (who is first in the rotation); B answers in 20 s."""
    inputs = tiny_inputs(
        tmp_path, {"A": {"backup_officer_id": "B"}, "B": {}, "C": {}},
        [{"received_at": "2025-03-04T10:00:00-06:00"}], medians={"A": 3000, "B": 20, "C": 5})
    result = run(inputs, policy("{method: round_robin, offer: {mode: assign, "
                                "accept_within_s: 300}}", PREFER_A))
    assert events(inputs, result) == [
        (0.0, "arrived", ""), (0.0, "assigned", "A"), (300.0, "sla_breach", "A"),
        (300.0, "assigned", "B"), (320.0, "accepted", "B")]
    assert result.sla_breaches[0] == 1 and result.officer[0] == inputs.world.roster.index["B"]
    # the timed-out officer's slot was released: only B's interval is still open at the end
    a = inputs.world.roster.index["A"]
    a_rows = result.intervals[result.intervals[:, 0] == a]
    assert len(a_rows) == 1 and a_rows[0, 2] - a_rows[0, 1] == pytest.approx(300)


def test_broadcast_goes_to_the_first_officer_to_accept(tmp_path):
    """Offered to three at once, the fastest (B, 20 s) takes the lead."""
    inputs = tiny_inputs(tmp_path, {"A": {}, "B": {}, "C": {}},
                         [{"received_at": "2025-03-04T10:00:00-06:00"}],
                         medians={"A": 100, "B": 20, "C": 50})
    result = run(inputs, policy("{method: round_robin, offer: {mode: broadcast, "
                                "max_officers: 3, accept_within_s: 300}}"))
    assert result.officer[0] == inputs.world.roster.index["B"]
    assert result.contact_s[0] - inputs.stream.arrival_s[0] == pytest.approx(20)
    assert result.offered_s[0] == inputs.stream.arrival_s[0]


@pytest.mark.parametrize(("hold", "officers"), [(False, ["A", "B", "C"]),
                                               (True, ["A", "C", "C"])])
def test_broadcast_refused_by_everyone_is_rerouted_at_once(tmp_path, hold, officers):
    """Three leads a second apart, each offered to A and B (hourly cap 1). With offers that
    hold no slot, A takes the first and B the second; both accept the third in time but are
    at their cap: it goes on to C as soon as the last of them is refused, without waiting for
    the SLA, and is no breach. With offers holding a slot, the first offer fills both caps, so
    the later leads go straight to C and no claim is refused."""
    capped = {"hourly_cap": 1}
    inputs = tiny_inputs(tmp_path, {"A": capped, "B": capped, "C": {}},
                         [{"received_at": f"2025-03-04T10:00:0{k}-06:00"} for k in range(3)],
                         medians={"A": 20, "B": 30, "C": 5})
    body = "pools:\n  ab: {ids: [A, B]}\n  main: {everyone: true}\n" \
           "else: {pool: ab, fallback: [main]}\n"
    result = run(inputs, policy("{method: round_robin, offer: {mode: broadcast, "
                                "max_officers: 2, accept_within_s: 900}, lifecycle: "
                                f"{{offers_hold_slots: {str(hold).lower()}}}}}", body))
    ids = inputs.world.roster.ids_tuple
    assert [ids[o] for o in result.officer] == officers
    assert result.sla_breaches.tolist() == [0, 0, 0]
    if hold:
        assert result.claim_refusals == 0
        return
    trail = events(inputs, result, 2)
    assert [(t, e, o) for t, e, o in trail if e != "offered"] == [
        (0.0, "arrived", ""), (20.0, "claim_refused", "A"), (30.0, "claim_refused", "B"),
        (30.0, "assigned", "C"), (35.0, "accepted", "C")]


def test_cascade_offers_one_officer_at_a_time(tmp_path):
    """Cascade with 60 s steps: the first officer offered needs 100 s and lapses at 60 s; the
    second, offered at 60 s, answers in 30 s and takes the lead at 90 s."""
    lead = [{"received_at": "2025-03-04T10:00:00-06:00"}]
    pol = policy("{method: round_robin, offer: {mode: cascade, max_officers: 2, step_s: 60, "
                 "accept_within_s: 600}}")
    probe = tiny_inputs(tmp_path / "probe", {"A": {}, "B": {}}, lead)
    now = probe.stream.leads[0].received_at
    first, second = decide(probe.stream.leads[0], probe.world.roster, pol,
                           RoutingState.empty(probe.world.roster.ids_tuple), now).offer.officer_ids
    inputs = tiny_inputs(tmp_path, {"A": {}, "B": {}}, lead, medians={first: 100, second: 30})
    result = run(inputs, pol)
    assert inputs.world.roster.ids_tuple[result.officer[0]] == second
    assert result.offered_s[0] - inputs.stream.arrival_s[0] == pytest.approx(60)
    assert result.contact_s[0] - inputs.stream.arrival_s[0] == pytest.approx(90)
    assert result.sla_breaches[0] == 0


def test_escalation_keeps_earlier_offers_open(tmp_path):
    """Escalating every 60 s: the first officer needs 100 s and still takes the lead, though
    the second was offered it at 60 s (and would need 50 s more); had the first needed 200 s,
    the second, answering at 110 s, would have won."""
    lead = [{"received_at": "2025-03-04T10:00:00-06:00"}]
    pol = policy("{method: round_robin, offer: {mode: escalate, max_officers: 2, step_s: 60, "
                 "accept_within_s: 600}}")
    probe = tiny_inputs(tmp_path / "probe", {"A": {}, "B": {}}, lead)
    first, second = decide(probe.stream.leads[0], probe.world.roster, pol,
                           RoutingState.empty(probe.world.roster.ids_tuple),
                           probe.stream.leads[0].received_at).offer.officer_ids
    for slow, winner, at in ((100, first, 100), (200, second, 110)):
        inputs = tiny_inputs(tmp_path / str(slow), {"A": {}, "B": {}}, lead,
                             medians={first: slow, second: 50})
        result = run(inputs, pol)
        ids = inputs.world.roster.ids_tuple
        assert ids[result.officer[0]] == winner
        assert result.contact_s[0] - inputs.stream.arrival_s[0] == pytest.approx(at)
        assert result.offered_s[0] - inputs.stream.arrival_s[0] == pytest.approx(at - (
            slow if winner == first else 50))
        assert result.sla_breaches[0] == 0


def test_a_lead_that_arrives_off_shift_waits_for_the_shift(tmp_path):
    """At 06:00 nobody works: the lead is held until 08:00 and contacted 20 s later."""
    inputs = tiny_inputs(tmp_path, {"A": {"work_hours": "Mon-Fri 08:00-17:00"}},
                         [{"received_at": "2025-03-05T06:00:00-06:00"}], medians={"A": 20})
    result = run(inputs, policy())
    names = [e[1] for e in events(inputs, result)]
    assert names[:3] == ["arrived", "held", "assigned"]
    assert result.contact_s[0] - inputs.stream.arrival_s[0] == pytest.approx(2 * 3600 + 20)
    assert result.held[0]


def test_a_response_that_would_start_after_a_weekend_past_the_end_is_not_an_error(tmp_path):
    """A Friday-evening lead sent to an on-call pool in a window that ends on Saturday: the
    officer's response would start at Monday's shift, days past the end; the run finishes,
    the offers time out and the lead is never contacted."""
    inputs = tiny_inputs(tmp_path, {"A": {"work_hours": "Mon-Fri 08:00-18:00"}},
                         [{"received_at": "2025-03-08T01:00:00+00:00"}],  # Fri 19:00 CST
                         operations="{drain_days: 0}", days=3.5)
    result = run(inputs, policy("{method: round_robin, after_hours: {action: pool, "
                                "pool: main}}"))
    assert result.sla_breaches[0] >= 1
    assert np.isnan(result.contact_s[0])


def test_nobody_licensed_means_abandoned_and_never_worked(tmp_path):
    """A lead in a state where no officer is licensed is unassigned and never worked."""
    inputs = tiny_inputs(tmp_path, {"A": ALWAYS}, [{"received_at": "2025-03-04T10:00:00-06:00",
                                                    "zip": "10001"}])
    result = run(inputs, policy())
    assert result.officer[0] == -1 and result.abandoned[0] and result.p_funded[0] == 0


def test_a_lead_closes_days_later_and_releases_its_officer(tmp_path):
    """With a cap of one open lead, the second lead waits for the first to close; the held
    queue retries it when the officer releases the slot."""
    inputs = tiny_inputs(tmp_path, {"A": {"max_open": 1, **ALWAYS}},
                         [{"received_at": "2025-03-04T10:00:00-06:00"},
                          {"received_at": "2025-03-04T10:05:00-06:00"}],
                         medians={"A": 10}, days=8,
                         operations="{drain_days: 40, hold_retry_s: 10000000}")
    result = run(inputs, policy())
    first_close = result.intervals[result.intervals[:, 1] == result.assigned_s[0]][0, 2]
    assert result.held[1]
    assert result.assigned_s[1] == pytest.approx(first_close)
    assert first_close - result.contact_s[0] >= 2 * 86400  # lost leads close after 2-5 days
    assert np.all(result.officer >= 0)


@pytest.mark.parametrize(("order", "first", "second"), [("oldest_first", 1, 2),
                                                        ("freshest_first", 2, 1)])
def test_a_freed_slot_goes_to_the_held_lead_the_policy_orders_first(tmp_path, order, first,
                                                                   second):
    """Two leads wait for an officer at their cap on open leads, retried every 15 minutes
    (the retries reorder nothing): the slot freed when the first lead closes goes to the
    older waiting lead under oldest_first, to the fresher one under freshest_first."""
    inputs = tiny_inputs(tmp_path, {"A": {"max_open": 1, **ALWAYS}},
                         [{"received_at": "2025-03-04T10:00:00-06:00"},
                          {"received_at": "2025-03-04T10:05:00-06:00"},
                          {"received_at": "2025-03-04T10:19:00-06:00"}],
                         medians={"A": 10}, days=8,
                         operations="{drain_days: 40, hold_retry_s: 900}")
    result = run(inputs, policy(f"{{method: round_robin, lifecycle: {{held_order: {order}}}}}"))
    first_close = result.intervals[result.intervals[:, 1] == result.assigned_s[0]][0, 2]
    assert result.held[1] and result.held[2]
    assert result.assigned_s[first] == pytest.approx(first_close)
    assert result.assigned_s[second] > result.assigned_s[first]


def test_forecast_is_a_separate_sample_drawn_once(small_scenario, small_inputs):
    """The dual-price forecast is its own sample of the lead model (never the realized
    stream), drawn once for the run plus a horizon; a window holds exactly its leads."""
    from simulator.runner import forecaster

    f = forecaster(small_scenario, small_inputs, replication_seeds(11, 1)[0])
    leads, rows = f.window(3600.0, 86400.0)
    assert leads and all(lead.lead_id.startswith("F") for lead in f.leads)
    assert not {lead.lead_id for lead in small_inputs.stream.leads} & \
        {lead.lead_id for lead in f.leads}
    start = small_scenario.start.timestamp()
    assert all(3600.0 <= lead.received_at.timestamp() - start < 3600.0 + 86400.0
               for lead in leads)
    assert [f.leads[r] for r in rows] == leads
    sample = f.leads
    f.window(small_inputs.end_s - 60.0, 86400.0)
    assert f.leads is sample


def test_events_list_every_officer_offered_and_charge_a_breach_to_each_holder(tmp_path):
    """events.parquet (``events_table``): a broadcast to three records an ``offered`` row for
    each of them, and when nobody accepts within the SLA, an ``sla_breach`` row for each
    officer who held the open offer, then the re-routed lead's offer (the decision to offer is
    its own row, without an officer)."""
    from simulator.outputs import events_table
    from simulator.runner import Experiment, ReplicationResult

    inputs = tiny_inputs(tmp_path, {"A": {}, "B": {}, "C": {}, "D": {}},
                         [{"received_at": "2025-03-04T10:00:00-06:00"}],
                         medians={"A": 900, "B": 900, "C": 900, "D": 10})
    body = "pools:\n  abc: {ids: [A, B, C]}\n  d: {ids: [D]}\n" \
           "else: {pool: abc, fallback: [d]}\n"
    result = run(inputs, policy("{method: round_robin, offer: {mode: broadcast, "
                                "max_officers: 3, accept_within_s: 300}}", body))
    exp = Experiment(None, inputs.world, [], [ReplicationResult(inputs, None, [result])], 0)  # type: ignore[arg-type]
    frame = events_table(exp).to_pandas()
    rows = [(float(t), e, o if isinstance(o, str) else "") for t, e, o in
            zip(frame["t_s"] - inputs.stream.arrival_s[0], frame["event"], frame["officer_id"],
                strict=True)]
    # the decision to offer (no officer), then each officer told
    assert sorted(o for t, e, o in rows if e == "offered" and t == 0.0) == ["", "A", "B", "C"]
    assert sorted(o for t, e, o in rows if e == "sla_breach") == ["A", "B", "C"]
    assert all(t == 300.0 for t, e, _ in rows if e == "sla_breach")
    assert [(t, e) for t, e, o in rows if o == "D"][-1] == (310.0, "accepted")
    assert result.sla_breaches[0] == 1  # one time-out of the lead in summary.csv


@pytest.mark.parametrize("order", ["freshest_first", "oldest_first"])
def test_the_kept_held_order_picks_what_the_whole_queue_would(small_inputs, monkeypatch, order):
    """The run keeps its held leads sorted by the engine's held key and lets ``pick_held``
    stop at the first lead that fits: at every freed slot of a run with a standing held
    queue, that pick is the one ``pick_held`` makes over the whole queue in another order."""
    from engine.lifecycle import Lifecycle
    from simulator.model import simulate

    picks: list[int | None] = []
    original = Lifecycle.pick_held

    def checked(self, officer_id, items, state, now, *, ordered=False):  # type: ignore[no-untyped-def]
        got = original(self, officer_id, items, state, now, ordered=ordered)
        assert ordered, "the run passes its queue in the held order"
        keys = [self.held_key(case) for case, _ in items]
        assert keys == sorted(keys)
        shuffled = list(reversed(range(len(items))))
        whole = original(self, officer_id, [items[k] for k in shuffled], state, now)
        assert (None if whole is None else shuffled[whole]) == got
        picks.append(got)
        return got

    monkeypatch.setattr(Lifecycle, "pick_held", checked)
    simulate(small_inputs, policy(f"{{method: round_robin, lifecycle: {{held_order: {order}}}}}"))
    assert picks and any(p is not None for p in picks) and any(p is None for p in picks)


@pytest.mark.parametrize("name", ["round_robin", "rules", "dual_price_broadcast"])
def test_a_run_is_the_same_when_its_decisions_are_replayed(small_scenario, small_inputs, name):
    """``engine.decide`` is pure: a run whose every decision is answered, in order, from a
    recording of the same run gives every lead the same officer, times, outcomes and events
    (what ``benchmarks/bench_simulator.py`` relies on to time a run without its decisions).
    Two decisions offering the lead to different officers, swapped, give another run: the
    comparison can tell."""
    from functools import partial

    from simulator.model import RunOptions
    from simulator.policies import resolve_policies
    from simulator.runner import run_policy
    from tests.simulator.replay import RanOut, recorded, replayed, same_run

    (named,) = resolve_policies([name])
    go = partial(run_policy, small_scenario, small_inputs, named,
                 replication_seeds(11, 1)[0], RunOptions(record_events=True))
    first, made = recorded(go)
    again, used_all = replayed(go, made)
    assert len(made) > len(small_inputs.stream) / 2 and used_all
    assert same_run(first, again)
    offered = [d.offer.officer_ids if d.offer is not None else None for d in made]
    a = next(k for k, ids in enumerate(offered) if ids)
    b = next(k for k, ids in enumerate(offered) if ids and ids != offered[a])
    swapped = list(made)
    swapped[a], swapped[b] = made[b], made[a]
    try:
        other, _ = replayed(go, swapped)
    except RanOut:  # it went another way and asked for more decisions than were made
        return
    assert not same_run(first, other)
