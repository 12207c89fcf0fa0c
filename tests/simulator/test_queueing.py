"""The queueing core against theory: an M/M/c queue's mean wait is Erlang C's.

c officers, always on shift, each holding one lead at a time (max_open 1); Poisson arrivals;
a lead closes an exponential time after its officer takes it (instant responses); a lead
that finds everyone busy waits in the held queue and is retried, first come first served,
when an officer releases a slot. The wait from arrival to assignment is then the M/M/c
waiting time: mean C(c, a) / (c mu - lambda).
"""

from __future__ import annotations

import csv
from math import factorial
from pathlib import Path

import numpy as np
import pytest

from simulator.crn import replication_seeds
from simulator.model import RunOptions, simulate
from simulator.policies import resolve_policy
from simulator.runner import build_world, prepare
from simulator.scenario import load_scenario
from tests.conftest import OFFICER_DEFAULTS


def erlang_c_wait_s(c: int, arrival_per_s: float, service_s: float) -> float:
    """Mean wait in queue of M/M/c (Erlang C), seconds."""
    a = arrival_per_s * service_s
    rho = a / c
    top = a**c / factorial(c) / (1 - rho)
    p_wait = top / (sum(a**k / factorial(k) for k in range(c)) + top)
    return p_wait / (c / service_s - arrival_per_s)


def mmc_scenario(tmp_path: Path, c: int, leads_per_day: float, service_s: float,
                 days: float) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    with open(tmp_path / "officers.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*OFFICER_DEFAULTS, "officer_id"])
        writer.writeheader()
        for k in range(c):
            writer.writerow({**OFFICER_DEFAULTS, "officer_id": f"S{k}", "max_open": "1"})
    (tmp_path / "mmc.yaml").write_text(f"""
scenario: mmc
start: 2025-03-03T00:00:00-06:00
days: {days}
timezone: America/Chicago
roster: officers.csv
world:
  response:
    median_s: 0.001
    officer_sigma: 0
    within_sigma: 0
    load_slope: 0
    busy_probability: 0
    notification_latency_s: {{email: 0, sms: 0, webhook: 0, push: 0}}
  closing: {{kind: exponential, mean_s: {service_s}}}
stream:
  leads_per_day: {leads_per_day}
  states: [TX]
  hour_weights: [{', '.join(['1'] * 24)}]
  weekday_weights: [1, 1, 1, 1, 1, 1, 1]
operations:
  hold_retry_s: 3.0e+7  # a year: never, within the run
  held_order: oldest_first
  drain_days: 10
""")
    return tmp_path / "mmc.yaml"


def mean_wait_s(tmp_path: Path, c: int, rho: float, service_s: float, n_leads: int,
                seed: int) -> float:
    per_s = rho * c / service_s
    days = n_leads / (per_s * 86400)
    scenario = load_scenario(mmc_scenario(tmp_path, c, per_s * 86400, service_s, days))
    inputs = prepare(scenario, build_world(scenario), replication_seeds(seed, 1)[0])
    run = simulate(inputs, resolve_policy("round_robin").policy,
                   options=RunOptions(record_events=False))
    wait = run.assigned_s - inputs.stream.arrival_s
    steady = slice(len(wait) // 10, None)  # drop the warm-up from an empty system
    assert np.all(run.officer[steady] >= 0)
    return float(np.mean(wait[steady]))


def test_erlang_c_formula_on_a_known_case():
    """C(2, 1) = 1/3: two servers at half load wait with probability one third."""
    assert erlang_c_wait_s(2, 1.0, 1.0) == pytest.approx((1 / 3) / (2 - 1))


def test_mmc_mean_wait_is_close_to_erlang_c_quickly(tmp_path):
    """A short run (4,000 leads, 3 officers at 70% load) lands within 15% of Erlang C."""
    theory = erlang_c_wait_s(3, 0.7 * 3 / 3600, 3600)
    assert mean_wait_s(tmp_path, 3, 0.7, 3600, 4000, seed=1) == pytest.approx(theory, rel=0.15)


@pytest.mark.slow
def test_mmc_mean_wait_matches_erlang_c_over_a_long_run(tmp_path):
    """Over 100,000 leads (five replications of 20,000; 2 officers at 50% load) the mean wait
    is within 5% of Erlang C (about three standard errors of the estimate)."""
    theory = erlang_c_wait_s(2, 0.5 * 2 / 3600, 3600)
    waits = [mean_wait_s(tmp_path / str(seed), 2, 0.5, 3600, 20000, seed) for seed in range(5)]
    assert float(np.mean(waits)) == pytest.approx(theory, rel=0.05)
