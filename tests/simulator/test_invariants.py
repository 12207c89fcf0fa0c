"""Invariants of every run, under every policy this engine provides: licensing and caps are
never broken, utilization stays in [0, 1], nothing beats the hindsight bound."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.roster import NO_CAP
from engine.rules import parse_policy
from simulator.bound import _pairs, earliest_contact_s, hindsight_bound
from simulator.crn import replication_seeds
from simulator.metrics import licensing_violations, summarize, utilization
from simulator.model import Inputs, RunOptions, RunResult, simulate
from simulator.policies import resolve_policy
from simulator.runner import prepare, run_policy
from tests.simulator.conftest import available_builtins


@pytest.fixture(scope="module")
def runs(small_scenario, small_inputs: Inputs) -> dict[str, RunResult]:
    seed = replication_seeds(11, 1)[0]
    return {name: run_policy(small_scenario, small_inputs, resolve_policy(name), seed,
                             RunOptions(record_events=False))
            for name in available_builtins()}


@pytest.fixture(scope="module")
def bound(small_inputs: Inputs):
    return hindsight_bound(small_inputs)


def _check_caps(inputs: Inputs, run: RunResult) -> None:
    """Every assignment (an interval of an open lead) that counts against the caps fits the
    officer's daily and hourly caps in their local calendar, and open leads never exceed the
    cap on open leads."""
    roster = inputs.world.roster
    clock = inputs.clock
    o = run.intervals[:, 0].astype(np.int64)
    start = run.intervals[:, 1]
    refunds = run.refunded
    for column, cap, key in ((2, roster.cap_daily, clock.local_day_many),
                             (3, roster.cap_hourly, clock.local_hour_index_many)):
        # a refund lowers only the count it names (day or hour, whichever was current)
        counted = Counter(zip(o.tolist(), start.tolist(), strict=True))
        taken = refunds[refunds[:, column] == 1.0]
        counted.subtract(Counter(zip(taken[:, 0].astype(np.int64).tolist(),
                                     taken[:, 1].tolist(), strict=True)))
        assert min(counted.values(), default=0) >= 0
        officers = np.array([k[0] for k, n in counted.items() for _ in range(n)],
                            dtype=np.int64)
        starts = np.array([k[1] for k, n in counted.items() for _ in range(n)])
        keys = key(officers, starts)
        for (officer, _), n in Counter(zip(officers.tolist(), keys.tolist(),
                                           strict=True)).items():
            assert n <= cap[officer]
    end = np.nan_to_num(run.intervals[:, 2], nan=np.inf)
    for officer in np.flatnonzero(roster.cap_open != NO_CAP):
        mine = o == officer
        for t in start[mine]:
            open_now = ((start[mine] <= t) & (end[mine] > t)).sum()
            assert open_now <= roster.cap_open[officer]


def test_no_policy_breaks_licensing_or_caps(small_inputs, runs):
    """Whatever the policy, every worked lead's officer is licensed in its state, and no cap
    is exceeded (offers are claimed only while the officer is still eligible)."""
    assert set(runs) >= {"round_robin", "rules", "first_to_claim"}
    for run in runs.values():
        assert licensing_violations(small_inputs, run) == 0
        _check_caps(small_inputs, run)


def test_utilization_is_a_fraction(small_inputs, runs):
    """Time-averaged open leads over the cap lie in [0, 1]."""
    for run in runs.values():
        assert 0.0 <= utilization(small_inputs, run) <= 1.0


def test_no_policy_beats_the_hindsight_bound(small_inputs, runs, bound):
    """ratio_to_bound <= 1 for every policy (and the bound is positive)."""
    assert bound.value > 0
    for run in runs.values():
        row = summarize(small_inputs, run, bound)
        assert row["expected_conversions"] <= bound.value + 1e-9
        assert 0 < row["ratio_to_bound"] <= 1.0


def test_every_worked_lead_is_no_better_than_its_best_case_pair(small_inputs, runs):
    """Each worked lead's true probability is at most that of its (lead, officer) pair at
    the pair's best-case contact time, the value the bound uses: the delay lower bound
    holds lead by lead."""
    lead_idx, officer_idx = _pairs(small_inputs)
    best = earliest_contact_s(small_inputs, lead_idx, officer_idx,
                              small_inputs.stream.arrival_s[lead_idx])
    earliest = {(int(a), int(b)): float(c)
                for a, b, c in zip(lead_idx, officer_idx, best, strict=True)}
    for run in runs.values():
        for i in np.flatnonzero(run.officer >= 0):
            assert run.contact_s[i] >= earliest[(int(i), int(run.officer[i]))] - 1e-6


def test_every_lead_is_accounted_for(small_inputs, runs):
    """Each lead is worked, abandoned, or still waiting at the end; counts add up."""
    n = len(small_inputs.stream)
    for run in runs.values():
        worked = run.officer >= 0
        assert not np.any(worked & run.abandoned)
        assert np.all(np.isnan(run.contact_s) == ~worked)
        assert np.all(run.p_funded[~worked] == 0)
        assert worked.sum() + run.abandoned.sum() <= n


def test_the_same_inputs_give_the_same_run(small_inputs, runs):
    """A run is a function of its inputs and policy (no hidden randomness)."""
    again = simulate(small_inputs, resolve_policy("first_to_claim").policy,
                     label="first_to_claim", options=RunOptions(record_events=False))
    first = runs["first_to_claim"]
    for name in ("officer", "contact_s", "funded", "p_funded", "sla_breaches"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), policy=st.sampled_from(["round_robin", "rules",
                                                             "first_to_claim"]),
       sla=st.sampled_from([120.0, 900.0]))
def test_any_seed_and_policy_keeps_licensing_caps_and_the_bound(small_scenario, small_world,
                                                                seed, policy, sla):
    """Property: for any replication seed, policy and SLA, no licensing or cap violation and
    the run stays under the bound."""
    named = resolve_policy(policy)
    tree = yaml.safe_load(Path(named.source).read_text())
    tree["routing"]["offer"]["accept_within_s"] = sla
    pol = parse_policy(yaml.safe_dump(tree), policy)
    inputs = prepare(replace(small_scenario, days=1.5), small_world,
                     replication_seeds(seed, 1)[0])
    run = simulate(inputs, pol, options=RunOptions(record_events=False))
    assert licensing_violations(inputs, run) == 0
    _check_caps(inputs, run)
    assert run.p_funded.sum() <= hindsight_bound(inputs).value + 1e-9
