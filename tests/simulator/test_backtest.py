"""Seeded back-test: the small world's summary for a fixed seed matches the stored one.

A deliberate change of behaviour (the engine's rotation, the world's defaults) changes these
numbers; check the change, then store the new ones with
``python -m tests.simulator.test_backtest`` (writes tests/simulator/data/expected_summary.csv).
"""

from __future__ import annotations

import pandas as pd

from simulator.model import RunOptions
from simulator.policies import resolve_policies
from simulator.runner import run_experiment
from simulator.scenario import load_scenario
from tests.simulator.conftest import DATA

EXPECTED = DATA / "expected_summary.csv"
POLICIES = ["round_robin", "first_to_claim"]
SEED = 7


def current_summary() -> pd.DataFrame:
    exp = run_experiment(load_scenario(DATA / "small.yaml"), resolve_policies(POLICIES),
                         replications=2, seed=SEED, options=RunOptions(record_events=False))
    return exp.summary


def test_summary_matches_the_stored_back_test():
    """Same scenario, policies and seed: the same summary, integers exactly and real numbers
    to 1e-9 (the simulation is deterministic)."""
    expected = pd.read_csv(EXPECTED)
    got = current_summary()
    assert list(got.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_dtype=False,
                                  rtol=1e-9, atol=1e-12)


if __name__ == "__main__":
    current_summary().to_csv(EXPECTED, index=False)
    print(f"wrote {EXPECTED}")
