"""The hindsight bound: the network solved two ways agrees, more officers never lower it."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import numpy as np
import pytest

from engine.domain import OfficerStatus
from engine.roster import Roster
from simulator.bound import build_network, hindsight_bound
from simulator.world import World


def test_flow_and_lp_solutions_agree(small_inputs):
    """OR-Tools min-cost flow (integer costs, values rounded up) and HiGHS on the same network
    give the same optimum, the flow never below the LP."""
    flow = hindsight_bound(small_inputs, method="flow")
    lp = hindsight_bound(small_inputs, method="lp")
    assert flow.value == pytest.approx(lp.value, rel=1e-6)
    assert flow.value >= lp.value - 1e-9
    assert flow.lead_value.sum() == pytest.approx(flow.value, rel=1e-6)
    assert np.all(flow.lead_value <= 1.0)


def test_every_lead_supplies_one_unit(small_inputs):
    """The network balances: one unit per lead with a pair, all of it absorbed by the sink."""
    net = build_network(small_inputs)
    assert net.supply.sum() == 0 and net.supply.max() == 1
    assert np.all(net.capacity >= 0) and np.all(net.value >= 0) and np.all(net.value <= 1)


def _without(inputs, officers):
    """The same inputs, with ``officers`` (roster indices) on status away."""
    roster = inputs.world.roster
    changed = [replace(o, status=OfficerStatus.AWAY) if i in officers else o
               for i, o in enumerate(roster.officers)]
    w = inputs.world
    return replace(inputs, world=World(w.params, Roster(changed), w.traits, w.departures))


def test_more_officers_never_lower_the_bound(small_inputs):
    """Taking officers away (nested sets) never raises the bound; adding never lowers it."""
    order = small_inputs.world.skill_order()
    values = [hindsight_bound(_without(small_inputs, set(order[:k].tolist()))).value
              for k in (0, 1, 3, 8)]
    assert all(a >= b - 1e-9 for a, b in pairwise(values))
    assert values[0] > values[-1]


def test_a_longer_cap_never_lowers_the_bound(small_inputs):
    """Raising every daily cap by one never lowers the bound."""
    roster = small_inputs.world.roster
    more = [replace(o, caps=replace(o.caps, daily=(o.caps.daily or 0) + 1))
            for o in roster.officers]
    w = small_inputs.world
    bigger = replace(small_inputs, world=World(w.params, Roster(more), w.traits, w.departures))
    assert hindsight_bound(bigger).value >= hindsight_bound(small_inputs).value - 1e-9


@pytest.mark.parametrize("tz, first, second", [
    ("America/St_Johns", "2025-03-05T03:10:00+00:00", "2025-03-05T03:40:00+00:00"),
    ("Asia/Kathmandu", "2025-03-04T18:05:00+00:00", "2025-03-04T18:20:00+00:00"),
])
def test_caps_count_local_hours_and_days_in_half_hour_zones(tmp_path, tz, first, second):
    """One officer with a daily cap of one in a zone off UTC by a half or quarter hour: two
    leads either side of local midnight (23:40 and 00:10; 23:50 and 00:05) are both worked at
    once, a day's cap each. The bound's hour and day nodes are the officer's local ones, so
    it is not below the run."""
    from simulator.metrics import summarize
    from tests.simulator.tiny import policy, run, tiny_inputs

    inputs = tiny_inputs(tmp_path, {"A": {"timezone": tz, "daily_cap": 1, "hourly_cap": 5,
                                          "work_hours": ""}},
                         [{"received_at": first}, {"received_at": second}], medians={"A": 60})
    bound = hindsight_bound(inputs, method="lp")
    result = run(inputs, policy())
    assert (result.officer == 0).all()
    assert bound.value >= result.p_funded.sum() - 1e-9
    assert summarize(inputs, result, bound)["ratio_to_bound"] <= 1.0 + 1e-9


def test_next_local_midnight_across_an_offset_change(small_world):
    """From 01:30 EST on the spring-forward Sunday, the next midnight is 00:00 EDT on Monday
    (23 hours of wall clock less the hour skipped), and from 00:30 EDT on the fall-back
    Sunday it is 00:00 EST on Monday (25 hours)."""
    from datetime import datetime

    from simulator.clock import OfficerClock

    roster = small_world.roster
    start = datetime.fromisoformat("2025-03-01T00:00:00-05:00")
    clock = OfficerClock(roster, start, 300 * 86400.0)
    o = next(i for i, off in enumerate(roster.officers) if off.timezone == "America/New_York")
    for at, expected in (("2025-03-09T01:30:00-05:00", "2025-03-10T00:00:00-04:00"),
                         ("2025-11-02T00:30:00-04:00", "2025-11-03T00:00:00-05:00")):
        t = (datetime.fromisoformat(at) - start).total_seconds()
        got = clock.next_local_midnight_many(np.array([o]), np.array([t]))[0]
        assert got == (datetime.fromisoformat(expected) - start).total_seconds()


def test_an_hour_repeated_at_half_past_a_utc_hour_has_one_cap(tmp_path):
    """St John's sets clocks back at 02:00 local, half past a UTC hour. With an hourly cap of
    one, the engine counts 01:40 NDT and 01:40 NST in the one repeated hour and 02:40 NST in
    the next; round robin works a lead at 04:40 UTC, at 05:40 UTC and one in each later
    local hour of the day at once. The bound's hours are the engine's, so it is not below."""
    from datetime import UTC, datetime, timedelta

    from tests.simulator.tiny import policy, run, tiny_inputs

    times = [datetime(2025, 11, 2, 4, 40, tzinfo=UTC), datetime(2025, 11, 2, 5, 40, tzinfo=UTC)]
    times += [datetime(2025, 11, 2, 0, 10, tzinfo=UTC) + timedelta(hours=h + 3.5)
              for h in range(3, 24)]
    inputs = tiny_inputs(tmp_path, {"A": {"timezone": "America/St_Johns", "hourly_cap": 1,
                                          "work_hours": ""}},
                         [{"received_at": t.isoformat()} for t in times], medians={"A": 60},
                         days=1.5, start="2025-11-01T22:00:00-05:00")
    result = run(inputs, policy())
    assert (result.officer == 0).all()
    assert hindsight_bound(inputs, method="lp").value >= result.p_funded.sum() - 1e-9


def _leaving(inputs, officer: str, after_s: float, latency_s: float = 0.0):
    """The same inputs with ``officer`` leaving ``after_s`` seconds after the start (time off
    for good) and a notification latency of ``latency_s``; the clock rebuilt with it."""
    from datetime import timedelta

    from engine.domain import AwayPeriod
    from simulator.clock import OfficerClock

    w = inputs.world
    i = w.roster.index[officer]
    at = inputs.clock.start + timedelta(seconds=after_s)
    officers = [replace(o, away=(*o.away, AwayPeriod(at, at + timedelta(days=3650))))
                if k == i else o for k, o in enumerate(w.roster.officers)]
    roster = Roster(officers)
    latency = w.traits.latency_s.copy()
    latency[i] = latency_s
    world = World(w.params, roster, replace(w.traits, latency_s=latency), w.departures)
    return replace(inputs, world=world,
                   clock=OfficerClock(roster, inputs.clock.start, inputs.end_s))


@pytest.mark.parametrize("leaves_s, worked", [(300.0, False), (900.0, True)])
def test_a_departed_officer_starts_no_response_after_leaving(tmp_path, leaves_s, worked):
    """The only officer is told of a lead at once and hears of it 600 s later. Leaving at
    300 s, they never start the response: the run works nothing and the bound credits
    nothing (it used to credit the contact). Leaving at 900 s, they start it before leaving,
    and the bound is at least the run."""
    from tests.simulator.tiny import policy, run, tiny_inputs

    inputs = tiny_inputs(tmp_path, {"A": {"work_hours": ""}},
                         [{"received_at": "2025-03-04T09:00:00-06:00"}], medians={"A": 60})
    inputs = _leaving(inputs, "A", leaves_s, latency_s=600.0)
    result = run(inputs, policy("{method: round_robin, offer: {mode: assign, "
                                "accept_within_s: 3600}}"))
    bound = hindsight_bound(inputs, method="lp").value
    assert bool(result.officer[0] == 0) is worked
    if worked:
        assert result.contact_s[0] == pytest.approx(660.0)
        assert bound >= result.p_funded.sum() - 1e-9 > 0
    else:
        assert result.p_funded.sum() == 0 and bound == 0


@pytest.mark.parametrize("before_end_s, credited", [(61.0, True), (60.0, False)])
def test_no_contact_is_credited_at_the_end_of_the_run(tmp_path, before_end_s, credited):
    """A lead whose contact would fall exactly at the end of the run (a 60 s response to a
    lead 60 s before the end) is not worked, since the run stops there; the bound credits
    it neither. One second earlier, both do."""
    from datetime import datetime, timedelta

    from tests.simulator.tiny import START, policy, run, tiny_inputs

    end = datetime.fromisoformat(START) + timedelta(days=1)
    at = end - timedelta(seconds=before_end_s)
    inputs = tiny_inputs(tmp_path, {"A": {"work_hours": "", "daily_cap": 5}},
                         [{"received_at": at.isoformat()}], medians={"A": 60},
                         operations="{drain_days: 0}")
    assert inputs.end_s == 86400
    result = run(inputs, policy())
    bound = hindsight_bound(inputs, method="lp").value
    assert bool(result.p_funded.sum() > 0) is credited
    assert bool(bound > 0) is credited
    assert bound >= result.p_funded.sum() - 1e-9


def test_no_capacity_day_starts_at_the_end(tmp_path):
    """A run that ends at a local midnight has no day node for the day that starts there."""
    from tests.simulator.tiny import policy, tiny_inputs

    del policy
    inputs = tiny_inputs(tmp_path, {"A": {"work_hours": "", "daily_cap": 1,
                                          "timezone": "America/Chicago"}},
                         [{"received_at": "2025-03-04T10:00:00-06:00"}],
                         start="2025-03-04T00:00:00-06:00", medians={"A": 60})
    net = build_network(inputs)
    # the run's two days (one and a day's drain) end at Thursday 00:00: one officer, two day
    # nodes and three backlog nodes; no hour nodes
    assert inputs.end_s == 2 * 86400
    assert net.n_nodes == len(inputs.stream) + 1 + 2 + 3


def test_no_policy_beats_the_bound_when_officers_leave(small_scenario):
    """The small world with its two best officers leaving on day 2 (local midnight) and a
    third mid-afternoon: every built-in policy's expected conversions stay under the bound."""
    from datetime import datetime

    from simulator.crn import replication_seeds
    from simulator.model import RunOptions
    from simulator.params import Departure
    from simulator.policies import resolve_policy
    from simulator.runner import build_world, prepare, run_policy
    from tests.simulator.conftest import available_builtins

    scenario = replace(small_scenario, departures=(
        Departure(at=datetime.fromisoformat("2025-03-06T00:00:00-05:00"), skill_rank=1),
        Departure(at=datetime.fromisoformat("2025-03-06T00:00:00-05:00"), skill_rank=2),
        Departure(at=datetime.fromisoformat("2025-03-05T15:37:00-05:00"), skill_rank=5)))
    world = build_world(scenario)
    seed = replication_seeds(3, 1)[0]
    inputs = prepare(scenario, world, seed)
    bound = hindsight_bound(inputs).value
    for name in available_builtins():
        run = run_policy(scenario, inputs, resolve_policy(name), seed,
                         RunOptions(record_events=False))
        assert run.p_funded.sum() <= bound + 1e-9, name
