"""Direction of change: what should never get worse when a lever moves the right way."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import yaml

from engine.rules import parse_policy
from simulator.crn import replication_seeds
from simulator.decay import ResponseDecay
from simulator.model import RunOptions, simulate
from simulator.policies import resolve_policy
from simulator.runner import build_world, prepare
from simulator.scenario import load_scenario
from tests.simulator.conftest import DATA


def _with_sla(name: str, sla_s: float):
    tree = yaml.safe_load(Path(resolve_policy(name).source).read_text())
    tree["routing"]["offer"]["accept_within_s"] = sla_s
    return parse_policy(yaml.safe_dump(tree), f"{name} sla {sla_s}")


@pytest.mark.slow
def test_a_shorter_sla_never_raises_the_p90_time_to_first_contact():
    """With every officer on shift and room under the caps, cutting the SLA from an hour down
    to ten minutes never raises the 90th percentile of minutes to first contact (pooled over
    three replications, same draws for every SLA), and no more leads go unworked. (Far below the
    officers' usual response times every offer times out and leads are abandoned instead:
    docs/simulator.md.)"""
    scenario = load_scenario(DATA / "daytime.yaml")
    world = build_world(scenario)
    inputs = [prepare(scenario, world, s) for s in replication_seeds(5, 3)]
    for name in ("round_robin", "rules"):
        p90, unworked = [], []
        for sla in (3600, 1800, 900, 600):
            policy = _with_sla(name, sla)
            minutes, idle = [], 0
            for inp in inputs:
                run = simulate(inp, policy, options=RunOptions(record_events=False))
                worked = run.officer >= 0
                idle += int((~worked).sum())
                minutes.append((run.contact_s - inp.stream.arrival_s)[worked] / 60)
            p90.append(np.percentile(np.concatenate(minutes), 90))
            unworked.append(idle)
        assert all(b <= a for a, b in pairwise(p90)), (name, p90)
        assert len(set(unworked)) == 1, (name, unworked)


def test_a_flatter_decay_never_lowers_expected_conversions(small_scenario, small_world,
                                                           small_inputs):
    """Rotation decisions do not depend on the truth, so with the decay flattened the same
    contacts happen at the same times and each is worth at least as much."""
    policy = resolve_policy("rules").policy
    before = simulate(small_inputs, policy, options=RunOptions(record_events=False))
    params = replace(small_world.params, decay=ResponseDecay(flatten=0.5))
    flat_world = replace_world(small_world, params)
    after = simulate(replace(small_inputs, world=flat_world), policy,
                     options=RunOptions(record_events=False))
    np.testing.assert_array_equal(before.contact_s, after.contact_s)
    assert np.all(after.p_funded >= before.p_funded - 1e-15)
    assert after.p_funded.sum() > before.p_funded.sum()


def replace_world(world, params):
    from simulator.world import World

    return World(params, world.roster, world.traits, world.departures)


def test_more_leads_never_lower_expected_conversions_of_the_bound(small_scenario, small_world):
    """A surge (more leads, same officers) never lowers the hindsight bound's conversions:
    the extra leads only add options."""
    from simulator.bound import hindsight_bound

    seed = replication_seeds(3, 1)[0]
    base = prepare(small_scenario, small_world, seed)
    surge = prepare(replace(small_scenario, stream=replace(small_scenario.stream,
                                                           volume_multiplier=1.5)),
                    small_world, seed)
    assert len(surge.stream) > len(base.stream)
    assert hindsight_bound(surge).value >= 0.9 * hindsight_bound(base).value
