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
