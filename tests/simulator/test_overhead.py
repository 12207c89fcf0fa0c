"""The simulator's own bookkeeping done cheaply gives the same numbers: the probability of
funding known at assignment computed for all worked leads at once, and leads carried by SimPy
callbacks instead of a process each."""

from __future__ import annotations

import math
import pickle

import numpy as np
import simpy

from simulator.model import RunOptions, simulate
from simulator.policies import resolve_policy
from simulator.runner import scorer_for
from simulator.world import AssignmentTruth


def test_p_funded_many_is_p_funded_row_by_row(small_world):
    truth = AssignmentTruth(small_world)
    rng = np.random.default_rng(5)
    n = 700  # more than two chunks
    value = rng.uniform(0.0, 0.3, n)
    base = rng.uniform(0.05, 1.0, n)
    base[:5] = 1.0  # clipped below one
    waited = rng.exponential(3600.0, n)
    waited[5:10] = 0.0
    waited[10] = math.inf
    median = rng.lognormal(math.log(180.0), 0.5, n)
    median[11] = math.inf
    within = rng.exponential(600.0, n)
    within[12:40] = math.inf  # no accept-by time
    within[40:45] = -1.0  # no response beats it: the unconditional expectation
    many = truth.p_funded_many(value, base, waited, median, within, chunk=256)
    one = [truth.p_funded(*row) for row in zip(value, base, waited, median, within,
                                               strict=True)]
    assert many.tolist() == one  # bit for bit
    assert many[10] == 0.0 and many[11] == 0.0


def _count_events(monkeypatch) -> list[int]:
    count = [0]
    schedule = simpy.Environment.schedule

    def counted(self, event, priority=1, delay=0):  # type: ignore[no-untyped-def]
        count[0] += 1
        return schedule(self, event, priority, delay)

    monkeypatch.setattr(simpy.Environment, "schedule", counted)
    return count


def test_a_lead_costs_few_simpy_events(monkeypatch, small_inputs):
    """Arrival, the answer, the closing and little else: no process started and ended per
    lead (a process per lead costs two more events each)."""
    named = resolve_policy("round_robin")
    count = _count_events(monkeypatch)
    run = simulate(small_inputs, named.policy, options=RunOptions(record_events=False),
                   scorer=scorer_for(named, small_inputs))
    n = len(small_inputs.stream)
    worked = int((run.officer >= 0).sum())
    assert worked > 0.9 * n
    assert count[0] / n < 4.5, count[0] / n


def test_a_run_is_the_same_twice_with_true_p_at_assignment(small_inputs):
    named = resolve_policy("round_robin")
    runs = [simulate(small_inputs, named.policy, scorer=scorer_for(named, small_inputs))
            for _ in range(2)]
    a, b = runs
    assert a.true_p_funded is not None and b.true_p_funded is not None
    assert np.array_equal(a.true_p_funded, b.true_p_funded)
    worked = a.officer >= 0
    assert (a.true_p_funded[worked] > 0).mean() > 0.9
    assert (a.true_p_funded[~worked] == 0).all()
    assert a.events is not None and b.events is not None
    for key in a.events:
        assert np.array_equal(a.events[key], b.events[key])


def test_true_p_at_assignment_is_computed_when_read_and_survives_pickling(small_inputs):
    """A run only timed or summarized does not compute it; a run sent to another process
    (the sweep's workers) computes the same values there."""
    named = resolve_policy("round_robin")
    run = simulate(small_inputs, named.policy, options=RunOptions(record_events=False),
                   scorer=scorer_for(named, small_inputs))
    assert run._true_p is None and run.truth_rows is not None
    copy = pickle.loads(pickle.dumps(run))
    here = run.true_p_funded
    assert here is not None and run._true_p is here
    there = copy.true_p_funded
    assert there is not None and here.tolist() == there.tolist()
    worked = np.flatnonzero(run.officer >= 0)
    assert sorted(run.truth_rows.rows.tolist()) == worked.tolist()
